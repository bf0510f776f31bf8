/**
 * homebridge-ui/public/index.html in happy-dom, with @homebridge/plugin-ui-utils' own mock of
 * `window.homebridge` (its `ui.mock` export) standing in for the Homebridge UI. Routes answer the
 * page's requests; every request, toast and schema-form call is recorded.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MockHomebridgePluginUi } from '@homebridge/plugin-ui-utils/ui.mock';
import type { PluginConfig } from '@homebridge/plugin-ui-utils/ui.interface';
import { Window, type Element } from 'happy-dom';
import { REPO_ROOT } from './homebridge.js';
import { waitFor } from './wait.js';

export type Route = (body: unknown) => object | Promise<object>;

/** The mock Homebridge UI with routes: an unknown path rejects like plugin-ui-utils' RequestError. */
export class PageHost extends MockHomebridgePluginUi {
  readonly requests: { path: string; body: unknown }[] = [];
  readonly toasts: string[] = [];
  schemaShown = 0;
  schemaHidden = 0;

  constructor(readonly routes: Record<string, Route>, config: PluginConfig[]) {
    super();
    this.mockPluginConfig = config;
    this.toast.error = (message: string) => {
      this.toasts.push(`error: ${message}`);
    };
  }

  override async request(path: string, body?: unknown): Promise<object> {
    this.requests.push({ path, body });
    const route = this.routes[path];
    if (!route) throw Object.assign(new Error(`no route ${path}`), { path });
    return await route(body);
  }

  override showSchemaForm(): void {
    this.schemaShown++;
  }

  override hideSchemaForm(): void {
    this.schemaHidden++;
  }
}

export interface SettingsPage {
  window: Window;
  document: Window['document'];
  host: PageHost;
  /** A page element by selector (throws when it is missing). */
  $(selector: string): Element;
  click(selector: string): void;
  close(): Promise<void>;
}

const PAGE = join(REPO_ROOT, 'homebridge-ui', 'public', 'index.html');

/** The page as the Homebridge UI renders it: the fragment in the body, then its script run. */
export async function openSettingsPage(routes: Record<string, Route>, config: PluginConfig[] = []): Promise<SettingsPage> {
  const html = readFileSync(PAGE, 'utf8');
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
  if (scripts.length !== 1) throw new Error(`index.html: expected one inline script, found ${scripts.length}`);
  const window = new Window({
    url: 'http://127.0.0.1:8581/plugins/settings-ui/homebridge-cctv/',
    settings: { enableJavaScriptEvaluation: true, suppressInsecureJavaScriptEnvironmentWarning: true },
  });
  const { document } = window;
  // innerHTML does not run scripts: the markup goes in first, the script after, as in the UI's iframe.
  document.body.innerHTML = html.replace(/<script>[\s\S]*?<\/script>/g, '');
  const host = new PageHost(routes, config);
  Object.assign(window, { homebridge: host });
  const errors: unknown[] = [];
  window.addEventListener('error', (event) => errors.push((event as unknown as { error?: unknown }).error ?? event));
  const script = document.createElement('script');
  script.textContent = scripts[0] ?? '';
  document.body.appendChild(script);
  if (errors.length > 0) throw new Error(`the page's script failed: ${String(errors[0])}`);
  // The mock fires `ready` on a microtask after construction; the page then shows the schema form.
  await waitFor(() => (host.schemaShown > 0 ? true : undefined), { timeoutMs: 5000, intervalMs: 10, what: 'page ready (showSchemaForm)' });
  const $ = (selector: string): Element => {
    const node = document.querySelector(selector);
    if (!node) throw new Error(`no ${selector} on the page`);
    return node;
  };
  return {
    window,
    document,
    host,
    $,
    click: (selector) => ($(selector) as Element & { click(): void }).click(),
    close: async () => {
      await window.happyDOM.abort();
      await window.happyDOM.close();
    },
  };
}
