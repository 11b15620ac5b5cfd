/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_FIREBASE_PROJECT_ID?: string;
  readonly VITE_FIREBASE_API_KEY?: string;
  readonly VITE_FIREBASE_AUTH_DOMAIN?: string;
  readonly VITE_AUTH_EMULATOR?: string;
  readonly VITE_API_BASE?: string;
  readonly VITE_SESSION_MODE?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
