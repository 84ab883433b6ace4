// N1, N2: the public privacy notice, generated from the policy file, and
// its versions: read the notice, change the policy, read what changed and
// the older version.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Carrel, Browser, open } from './carrel.mjs';

/** How the notice words the circulation class's retention, from the file. */
function circulationRule(policyText) {
  const keep = /\[classes\.circulation\][\s\S]*?keep = "([^"]+)"/.exec(policyText)[1];
  return keep === '0 days' ? 'as soon as the item is returned' : `${keep} after the item is returned`;
}

let carrel;
let browser;
before(async () => {
  carrel = await Carrel.start();
  browser = await Browser.launch();
});
after(async () => {
  await browser?.close();
  await carrel?.close();
});

test('n1 the home page leads to the notice and both sign-ins', async () => {
  const page = await browser.visitor(carrel);
  assert.equal(await open(page, carrel, '/'), 200);
  for (const name of ['Read the privacy notice', 'Patron sign-in', 'Staff sign-in']) {
    assert.equal(await page.getByRole('link', { name, exact: true }).count() > 0, true, name);
  }
  await page.getByRole('link', { name: 'Read the privacy notice' }).click();
  await page.waitForURL('**/privacy');
  assert.match(await page.locator('h1').innerText(), /How .* handles your information/);
});

test('n1 the notice names every class with its fields and retention', async () => {
  const page = await browser.visitor(carrel);
  assert.equal(await open(page, carrel, '/privacy'), 200);
  const classes = await page.locator('section.record-class').count();
  assert.ok(classes >= 10, `${classes} record classes`);
  const loans = page.locator('#class-circulation');
  const rule = circulationRule(readFileSync(carrel.policyFile, 'utf8'));
  assert.ok((await loans.locator('.retention').innerText()).includes(rule), rule);
  assert.ok(await page.locator('#class-registration li[data-field="email"]').count() === 1);
  assert.match(await page.locator('#complaints + p').innerText(), /Director/);
});

test('d8 a link to a site the library does not control goes through the exit page', async () => {
  const page = await browser.visitor(carrel);
  await open(page, carrel, '/');
  const links = page.locator('#elsewhere a');
  assert.ok(await links.count() > 0, 'the policy lists external sites');
  const name = await links.first().innerText();
  await links.first().click();
  await page.waitForURL('**/leaving?to=*');
  await open(page, carrel, new URL(page.url()).pathname + new URL(page.url()).search);
  assert.match(await page.locator('#leaving').innerText(), /privacy protection ends there/);
  const onward = await page.locator('#continue').getAttribute('href');
  assert.match(onward, /^https:\/\//);
  assert.match(await page.locator('#continue').innerText(), new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.equal(await open(page, carrel, '/leaving?to=https%3A%2F%2Fevil.example%2F'), 404, 'no open redirect');
});

test('n2 a changed policy is a new version; the older one stays readable with what changed', async () => {
  const before = circulationRule(readFileSync(carrel.policyFile, 'utf8'));
  await carrel.restartWithPolicy((text) => text.replace(
    /\[classes\.circulation\]([\s\S]*?)keep = "[^"]+"/,
    (_, between) => `[classes.circulation]${between}keep = "45 days"`,
  ));
  const page = await browser.visitor(carrel);
  assert.equal(await open(page, carrel, '/privacy'), 200);
  const after = '45 days after the item is returned';
  assert.ok((await page.locator('#class-circulation .retention').innerText()).includes(after));
  assert.match(await page.locator('#version').innerText(), /Version 2\b/);
  const changes = await page.locator('#changes').innerText();
  assert.ok(changes.includes(after) && changes.includes(`was: Destroyed ${before}`), changes);
  assert.equal(await open(page, carrel, '/privacy/versions'), 200);
  assert.equal(await page.locator('#versions tbody tr').count(), 2);
  await page.getByRole('link', { name: '1', exact: true }).click();
  await page.waitForURL('**/privacy/versions/1');
  await open(page, carrel, '/privacy/versions/1');
  assert.match(await page.locator('#version').innerText(), /not the notice in force today/);
  assert.ok((await page.locator('#class-circulation .retention').innerText()).includes(before));
});
