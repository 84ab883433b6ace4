// C1, C3, C4, A2: a patron's choices and corrections, in the browser:
// remove the e-mail address, join a list, be asked again after a policy
// change and keep the consent, send a correction and see it pending, and
// staff approve it.
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

async function signedIn(which) {
  const page = await browser.visitor(carrel);
  await patronSignIn(page, carrel, carrel.demoPatron(which));
  await page.waitForURL(/\/my(\/consents)?$/);
  return page;
}

test('c3 a patron adds, then removes, their e-mail address', async () => {
  const page = await signedIn(4);
  await open(page, carrel, '/my/choices');
  await page.getByLabel(/Add one|Change it to/).fill('reader.four@example.org');
  await page.getByRole('button', { name: 'Save e-mail address' }).click();
  await page.waitForURL('**/my/choices?done=email-saved');
  await checkPage(page, 'email saved');
  assert.match(await page.locator('#email-now').innerText(), /reader\.four@example\.org/);
  await page.getByRole('button', { name: 'Remove my e-mail address' }).click();
  await page.waitForURL('**/my/choices?done=email-removed');
  assert.match(await page.locator('#email-now').innerText(), /No e-mail address is kept/);
});

test('c4 c1 a patron joins a list, is asked again after a policy change, and keeps the consent', async () => {
  let page = await signedIn(5);
  await open(page, carrel, '/my/choices');
  const join = page.getByRole('button', { name: /^Join / }).first();
  const label = await join.getAttribute('aria-label');
  const list = label.replace(/^Join /, '');
  await join.click();
  await page.waitForURL('**/my/choices?done=joined');
  assert.ok(await page.getByRole('button', { name: `Leave ${list}` }).count() === 1);
  assert.match(await page.locator('#consents').innerText(), /in force/);

  await carrel.restartWithPolicy((text) => text.replace(
    /\[classes\.mailing_list\]([\s\S]*?)keep = "[^"]+"/,
    (_, between) => `[classes.mailing_list]${between}keep = "2 years"`,
  ));
  page = await browser.visitor(carrel);
  await patronSignIn(page, carrel, carrel.demoPatron(5));
  await page.waitForURL('**/my/consents');
  await checkPage(page, '/my/consents');
  assert.match(await page.locator('main').innerText(), new RegExp(list));
  assert.match(await page.locator('main').innerText(), /2 years/);
  const section = page.locator('section.consent', { hasText: list });
  await section.getByRole('button', { name: /Keep it/ }).click();
  await page.waitForURL('**/my/consents?done=1');
  await open(page, carrel, '/my/choices');
  assert.doesNotMatch(await page.locator('#consents').innerText(), /asked again/);
});

test('a2 a correction is pending until staff verify it with a photo ID', async () => {
  const page = await signedIn(6);
  await open(page, carrel, '/my/choices');
  await page.getByLabel('Which detail').selectOption('address');
  await page.getByLabel('The correct value').fill('12 Corrected Road, Festus');
  await page.getByRole('button', { name: 'Send for verification' }).click();
  await page.waitForURL('**/my/choices?done=correction-sent');
  assert.match(await page.locator('#pending').innerText(), /12 Corrected Road.*pending verification/s);

  const staff = await browser.visitor(carrel);
  await staffSignIn(staff, carrel, 'clerk');
  await staff.waitForURL('**/staff');
  await checkPage(staff, '/staff');
  await open(staff, carrel, '/staff/corrections');
  const correction = staff.locator('section.correction', { hasText: '12 Corrected Road' });
  await correction.getByLabel(/Photo ID checked/).selectOption('driver_license');
  await correction.getByRole('button', { name: 'Approve and apply' }).click();
  await staff.waitForURL('**/staff/corrections?done=approved');
  await checkPage(staff, 'approved');

  await open(page, carrel, '/my/choices');
  assert.equal(await page.locator('#pending').count(), 0, 'no longer pending');
  assert.match(await page.locator('#field').innerText(), /12 Corrected Road/);
});
