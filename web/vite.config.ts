import { defineConfig, loadEnv, type Plugin } from 'vite';

// The built page gets a Content-Security-Policy that allows scripts and styles from
// its own origin only, and network calls to the backend and to Firebase Auth
// (the emulator, or Google's endpoints for a real project).
function contentSecurityPolicy(env: Record<string, string>): Plugin {
  const connect = ["'self'"];
  const apiBase = (env.VITE_API_BASE ?? '').trim();
  if (apiBase) connect.push(new URL(apiBase).origin);
  const emulator = (env.VITE_AUTH_EMULATOR ?? '').trim();
  if (emulator) connect.push(`http://${emulator}`);
  else connect.push('https://identitytoolkit.googleapis.com', 'https://securetoken.googleapis.com');
  const policy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; ');
  return {
    name: 'content-security-policy',
    apply: 'build', // the dev server injects inline styles
    transformIndexHtml: () => [
      { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: policy }, injectTo: 'head-prepend' },
    ],
  };
}

export default defineConfig(({ mode }) => ({
  plugins: [contentSecurityPolicy(loadEnv(mode, process.cwd(), 'VITE_'))],
  build: { target: 'es2022', chunkSizeWarningLimit: 1024 },
  server: { host: 'localhost', port: 5174, strictPort: true },
}));
