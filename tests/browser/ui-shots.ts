/**
 * Screenshots for people to look at (not assertions of behaviour): one state of the page in English
 * and Turkish, at desktop (1280×900) and phone (375×812) width, into UI_SHOTS_DIR. Each phone shot
 * also checks that nothing overflows sideways, the one layout defect a screenshot must not hide.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Locator, Page } from "playwright-core";

const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "phone", width: 375, height: 812 },
] as const;

type ShotOptions = {
  /** The part of the page to photograph; the whole page when left out. */
  target?: () => Locator;
  /** Brings the page into the state to photograph after the language changed (e.g. opens a dialog). */
  prepare?: () => Promise<void>;
  /** Undoes `prepare` before the language switch (e.g. closes the dialog). */
  reset?: () => Promise<void>;
  /** The directory; UI_SHOTS_DIR when left out, and no shots at all when neither is set. */
  dir?: string;
};

async function chooseLanguage(page: Page, lang: "en" | "tr"): Promise<void> {
  const button = page.locator(`button[lang="${lang}"]`).first();
  await button.click();
  await page.locator(`button[lang="${lang}"][aria-pressed="true"]`).first().waitFor();
}

/** Takes `name`-{en,tr}-{desktop,phone}.png and leaves the page in English at desktop width. */
export async function shootStates(page: Page, name: string, options: ShotOptions = {}): Promise<string[]> {
  const dir = options.dir ?? process.env.UI_SHOTS_DIR;
  if (!dir) return [];
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const lang of ["en", "tr"] as const) {
    await options.reset?.();
    await chooseLanguage(page, lang);
    await options.prepare?.();
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize({ width: viewport.width, height: viewport.height });
      await page.waitForTimeout(250);
      const file = path.join(dir, `${name}-${lang}-${viewport.name}.png`);
      if (options.target) await options.target().screenshot({ path: file, animations: "disabled" });
      else await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
      if (viewport.name === "phone") {
        // The widest elements sticking out on the right, so a failure says where to look.
        const wide = await page.evaluate(() =>
          [...document.querySelectorAll("body *")]
            .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 4)
            .map((el) => `${el.tagName.toLowerCase()}.${(el.getAttribute("class") ?? "").split(" ").slice(0, 4).join(".")} → ${Math.round(el.getBoundingClientRect().right)}px`),
        );
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${name} (${lang}) overflows sideways by ${overflow}px at 375 px: ${wide.join("; ")}`);
      }
      files.push(file);
    }
  }
  await options.reset?.();
  await chooseLanguage(page, "en");
  await page.setViewportSize({ width: 1280, height: 900 });
  return files;
}
