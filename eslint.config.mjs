import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

/** One import style: `@/…` outside the file's own folder (scripts/rewrite-imports.ts converts). */
const PARENT_IMPORT = { group: ["../*", "../**"], message: "Import with @/… instead of ../ (scripts/rewrite-imports.ts)." };

/** Modules that only the web process may load (docs/architecture.md, Boundaries). */
const WEB_ONLY = [
  "next",
  "next/*",
  "react",
  "react-dom",
  "@/app/*",
  "@/components/*",
  "@/lib/http/*",
  "@/lib/auth/*",
  "@/lib/oauth/flow",
  "@/lib/oauth/callback-page",
  "@/lib/oauth/result-cookie",
  "@/lib/mailboxes",
  "@/lib/mailboxes/*",
];

/** no-restricted-imports for a folder: the parent-import rule plus the folder's own boundaries. */
const restrict = (...patterns) => ({ "no-restricted-imports": ["error", { patterns: [PARENT_IMPORT, ...patterns] }] });

export default tseslint.config(
  { ignores: ["node_modules/**", ".next/**", ".data/**", "drizzle/**", "next-env.d.ts", "test-results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", fetch: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", window: "readonly", document: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/explicit-module-boundary-types": "off",
      "no-constant-condition": ["error", { checkLoops: false }],
      eqeqeq: ["error", "smart"],
    },
  },
  { files: ["**/*.ts", "**/*.tsx"], rules: restrict() },
  {
    files: ["components/**/*.ts", "components/**/*.tsx"],
    rules: restrict({ group: ["@/lib/db", "@/lib/db/*", "@/lib/db/**"], message: "components get data through the API (types from @/lib/api), never from lib/db." }),
  },
  {
    files: ["lib/**/*.ts"],
    rules: restrict({ group: ["@/watcher", "@/watcher/*", "@/watcher/**"], message: "lib never imports watcher: the watcher composes lib." }),
  },
  {
    files: ["lib/email/**/*.ts"],
    rules: restrict(
      { group: ["@/watcher", "@/watcher/*", "@/watcher/**"], message: "lib never imports watcher: the watcher composes lib." },
      { group: ["@/lib/oauth", "@/lib/oauth/*", "@/lib/oauth/**"], message: "lib/email imports nothing from lib/oauth: tokens are injected (ProviderDeps.tokens)." },
      { group: ["@/lib/mailboxes", "@/lib/mailboxes/*", "@/lib/mailboxes/**"], message: "lib/email is the protocol layer both processes load; web-side mailbox logic (lib/mailboxes) builds on it, never the reverse." },
      { group: ["@/lib/http", "@/lib/http/*", "@/lib/auth", "@/lib/auth/*"], message: "lib/email loads in the watcher: no web-only modules." },
    ),
  },
  {
    files: ["watcher/**/*.ts", "inbound/**/*.ts"],
    ignores: ["watcher/**/*.test.ts", "inbound/**/*.test.ts"],
    rules: restrict({ group: WEB_ONLY, message: "web-only module: the watcher process must not load it." }),
  },
  {
    files: ["app/**/*.tsx", "components/**/*.tsx"],
    plugins: { "react-hooks": reactHooks },
    rules: { "react-hooks/rules-of-hooks": "error", "react-hooks/exhaustive-deps": "warn" },
  },
  {
    files: ["**/*.test.ts", "tests/**/*.ts", "bench/**/*.ts", "scripts/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" },
  },
);
