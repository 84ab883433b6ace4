// Issue 16: a day at the circulation desk, in the browser: sign in and
// come back to the page asked for, scan a card, the mask and an audited
// reveal (D6), checkout, checkin routing an item to the hold shelf,
// register a patron from the policy's form, change details in person; a
// clerk cannot reach the Director's pages by address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Carrel, Browser, open, checkPage, patronSignIn, staffSignIn } from './carrel.mjs';

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

/** A clerk, signed in through the page the desk sent them to. */
async function clerk() {
  const page = await browser.visitor(carrel);
  await page.goto(`${carrel.base}/staff/desk`);
  await page.waitForURL('**/staff/sign-in?next=/staff/desk');
  await checkPage(page, 'sign-in, then the desk');
  await page.getByLabel('Username').fill('clerk');
  await page.getByLabel('Password').fill('demo-clerk-pass');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/staff/desk');
  await checkPage(page, '/staff/desk');
  return page;
}

/** Scans `card` at the desk: the patron's page. */
async function scan(page, card) {
  await open(page, carrel, '/staff/desk');
  // The scanner types into the field that has focus, then Enter.
  await page.keyboard.type(card);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/staff\/desk\/patrons\/\d+$/);
  await checkPage(page, 'patron at the desk');
}

/** Scans items until one is lent (the demo has some out already). */
async function checkOutAny(page, from) {
  for (let n = from; n < from + 60; n += 1) {
    const barcode = `31234${String(n).padStart(9, '0')}`;
    await page.getByLabel('Scan an item to check it out').fill(barcode);
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    if (await page.locator('#desk-done').count()) return barcode;
  }
  throw new Error('no item could be lent');
}

test('d6 the desk masks the patron until a purpose reveals more, and a checkout', async () => {
  const page = await clerk();
  await scan(page, carrel.demoPatron(0).card);
  const heading = await page.locator('#patron-heading').innerText();
  assert.match(heading, /^\S+ \S\. card ••••\d{4}$/, heading);
  assert.equal(await page.locator('#revealed').count(), 0);
  assert.match(await page.locator('#standing').innerText(), /Valid through|Expired|Blocked/);

  await page.getByLabel('Show more, for').selectOption('account');
  await page.getByRole('button', { name: 'Show details' }).click();
  await checkPage(page, 'revealed');
  const shown = await page.locator('#revealed').innerText();
  assert.match(shown, /This look is recorded/);
  assert.match(shown, /Address/);
  // Not in the address bar, and gone on the next page.
  assert.doesNotMatch(page.url(), /purpose|account/);
  await page.goto(page.url().replace(/\/reveal$/, ''));
  assert.equal(await page.locator('#revealed').count(), 0);

  const barcode = await checkOutAny(page, 200);
  assert.match(await page.locator('#loans').innerText(), new RegExp(barcode));
  await page.getByRole('link', { name: /Due-date slip/ }).click();
  await checkPage(page, 'slip');
  assert.match(await page.locator('#slip').innerText(), new RegExp(barcode));
});

test('checkin sends an item another patron holds to the hold shelf', async () => {
  const desk = await clerk();
  await scan(desk, carrel.demoPatron(1).card);
  const barcode = await checkOutAny(desk, 300);

  // Another patron places a hold on it online.
  const patron = await browser.visitor(carrel);
  await patronSignIn(patron, carrel, carrel.demoPatron(2));
  await patron.waitForURL(/\/my(\/consents)?$/);
  await open(patron, carrel, '/my');
  await patron.getByLabel(/barcode/i).fill(barcode);
  await Promise.all([patron.waitForNavigation(), patron.getByRole('button', { name: /Place hold/i }).click()]);

  await open(desk, carrel, '/staff/desk/checkin');
  await desk.keyboard.type(barcode);
  await Promise.all([desk.waitForNavigation(), desk.keyboard.press('Enter')]);
  await checkPage(desk, 'checked in');
  assert.match(await desk.locator('#route').innerText(), /put it on the hold shelf, labelled ••••\d{4}/);
});

test('a supervisor registers a patron from the policy form and changes details in person', async () => {
  const page = await browser.visitor(carrel);
  await staffSignIn(page, carrel, 'supervisor');
  await page.waitForURL('**/staff');
  await open(page, carrel, '/staff/patrons/new');
  await page.getByLabel(/^Card number/).fill('29990000000123');
  await page.getByLabel(/^Category/).selectOption('adult');
  await page.getByLabel(/^Card valid until/).fill('2028-06-30');
  await page.getByLabel(/^Name/).fill('Wilhelmina Quorn');
  await page.getByLabel(/^Address/).fill('7 Brook Lane, Hillsboro');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.waitForURL(/\/staff\/desk\/patrons\/\d+\?registered$/);
  await checkPage(page, 'registered');
  assert.match(await page.locator('#patron-heading').innerText(), /^Wilhelmina Q\. card ••••0123$/);

  await page.getByRole('link', { name: 'Change details in person' }).click();
  await checkPage(page, 'edit');
  await page.getByLabel(/^Address/).fill('9 Brook Lane, Hillsboro');
  await page.getByRole('button', { name: 'Save the changes' }).click();
  assert.match(await page.locator('#form-problem').innerText(), /photo ID/);
  await page.getByLabel(/^Address/).fill('9 Brook Lane, Hillsboro');
  await page.getByLabel(/Photo ID checked/).selectOption('driver_license');
  await page.getByRole('button', { name: 'Save the changes' }).click();
  await page.waitForURL(/\?updated$/);
  await checkPage(page, 'updated');
});

test('a clerk cannot reach the Director\'s pages by address', async () => {
  const page = await clerk();
  for (const path of ['/staff/privacy']) {
    const status = await open(page, carrel, path);
    assert.equal(status, 403, path);
  }
  assert.equal(await page.getByRole('link', { name: 'Privacy dashboard' }).count(), 0);
});

test('a supervisor loads a MARC file through the upload form', async () => {
  const page = await browser.visitor(carrel);
  await staffSignIn(page, carrel, 'supervisor');
  await page.waitForURL('**/staff');
  await open(page, carrel, '/staff/items/import');
  const record = (title, barcode) => `<record><leader>00000nam a2200000 a 4500</leader>`
    + `<datafield tag="245" ind1="0" ind2="0"><subfield code="a">${title}</subfield></datafield>`
    + (barcode ? `<datafield tag="952" ind1=" " ind2=" "><subfield code="p">${barcode}</subfield></datafield>` : '')
    + '</record>';
  const xml = '<?xml version="1.0" encoding="UTF-8"?><collection xmlns="http://www.loc.gov/MARC21/slim">'
    + record('Uploaded one', '39300000000001') + record('No item here', null) + record('Uploaded two', '39300000000002')
    + '</collection>';
  await page.setInputFiles('#file', { name: 'catalogue.xml', mimeType: 'application/xml', buffer: Buffer.from(xml) });
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Load' }).click()]);
  await checkPage(page, 'import report');
  assert.match(await page.locator('#import-report').innerText(), /3 records read, 2 items loaded, 1 problems/);
  assert.match(await page.locator('#import-problems').innerText(), /Record 2: .*952 \$p or 852 \$p/);
  await open(page, carrel, '/staff/items?q=uploaded');
  assert.match(await page.locator('#items').innerText(), /Uploaded one[\s\S]*Uploaded two/);
});
