import { defineConfig, loadEnv, type Plugin } from 'vite';

// The built page gets a Content-Security-Policy that allows scripts and styles from
// its own origin only, and network calls to the backend and to Firebase Auth
// (the emulator, or Google's endpoints for a real project); with App Check, also to
// its token source (reCAPTCHA Enterprise and App Check's exchange, or the custom minter).
function contentSecurityPolicy(env: Record<string, string>): Plugin {
  const connect = ["'self'"];
  const scripts = ["'self'"];
  const frames: string[] = [];
  const appCheck = (env.VITE_APP_CHECK_PROVIDER ?? '').trim().toLowerCase();
  if (appCheck === 'recaptcha-enterprise') {
    connect.push('https://content-firebaseappcheck.googleapis.com');
    scripts.push('https://www.google.com/recaptcha/', 'https://www.gstatic.com/recaptcha/');
    frames.push('https://www.google.com/recaptcha/', 'https://recaptcha.google.com/recaptcha/');
  } else if (appCheck === 'custom') {
    const minter = (env.VITE_APP_CHECK_TOKEN_URL ?? '').trim();
    if (minter) connect.push(new URL(minter).origin);
  }
  const apiBase = (env.VITE_API_BASE ?? '').trim();
  if (apiBase) connect.push(new URL(apiBase).origin);
  const emulator = (env.VITE_AUTH_EMULATOR ?? '').trim();
  if (emulator) connect.push(`http://${emulator}`);
  else connect.push('https://identitytoolkit.googleapis.com', 'https://securetoken.googleapis.com');
  const policy = [
    "default-src 'self'",
    `script-src ${scripts.join(' ')}`,
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
    ...(frames.length ? [`frame-src ${frames.join(' ')}`] : []),
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
