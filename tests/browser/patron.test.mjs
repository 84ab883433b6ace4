// C2, A1: a patron signs in with card and PIN, sees their account, and
// signs out; wrong PINs are throttled and never say whether the card
// exists; a form posted from another site is refused.
import { test, before, after } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { Carrel, Browser, open, checkPage, patronSignIn } from './carrel.mjs';

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

test('c2 a patron signs in, sees My account, and signs out', async () => {
  const page = await browser.visitor(carrel);
  await patronSignIn(page, carrel, carrel.demoPatron(0));
  await page.waitForURL('**/my');
  await checkPage(page, '/my');
  assert.equal(await page.locator('h1').innerText(), 'My account');
  assert.match(await page.locator('#signed-in-as').innerText(), /library card/);
  const card = await page.locator('#card dd').first().innerText();
  assert.match(card, /^••••\d{4}$/, 'the card number is masked');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'carrel_patron');
  assert.ok(session.httpOnly, 'HttpOnly');
  assert.equal(session.sameSite, 'Strict');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/my/sign-in?done=signed-out');
  await checkPage(page, 'signed out');
  assert.equal(await open(page, carrel, '/my'), 401, 'signed out means signed out');
});

test('csrf a form posted from another site is refused', async () => {
  const page = await browser.visitor(carrel);
  await patronSignIn(page, carrel, carrel.demoPatron(3));
  await page.waitForURL('**/my');
  const other = await browser.visitor(carrel);
  await other.context().addCookies(await page.context().cookies());
  await other.setContent(`<form method="post" action="${carrel.base}/my/sign-out"><input name="form_token" value="guess"><button>go</button></form>`);
  const [answer] = await Promise.all([
    other.waitForNavigation(),
    other.getByRole('button', { name: 'go' }).click(),
  ]);
  assert.equal(answer.status(), 403);
  assert.match(await other.locator('h1').innerText(), /Form not accepted/);
  assert.equal(await open(page, carrel, '/my'), 200, 'still signed in');
});

test('a1 a patron views everything held and downloads it, and the view is on the record', async () => {
  const page = await browser.visitor(carrel);
  const patron = carrel.demoPatron(7);
  await patronSignIn(page, carrel, patron);
  await page.waitForURL('**/my');
  assert.equal(await open(page, carrel, '/my/data'), 200);
  assert.match(await page.locator('#details').innerText(), new RegExp(patron.card));
  assert.ok(await page.locator('#history-heading').count() === 1);
  for (const [button, kind] of [['Download as JSON', 'json'], ['Download as a web page', 'html']]) {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: button }).click(),
    ]);
    assert.match(download.suggestedFilename(), new RegExp(`^library-records-.*\\.${kind}$`));
    const text = readFileSync(await download.path(), 'utf8');
    assert.match(text, kind === 'json' ? /"cover_sheet"/ : /Disclosure of library records/);
  }
  // The downloads are requests the patron made: they show as such.
  await open(page, carrel, '/my/data');
  assert.match(await page.locator('#disclosures').innerText(), /you|patron/i);
});

// Last: it uses up this address's failed guesses for 15 minutes.
test('c2 wrong PINs get one answer whatever the card, then the address is throttled', async () => {
  const page = await browser.visitor(carrel);
  const { card } = carrel.demoPatron(1);
  const messages = new Set();
  for (const attempt of [card, '99999999999999', card, '12345', card]) {
    await patronSignIn(page, carrel, { card: attempt, pin: '0000' });
    await page.waitForSelector('#sign-in-problem');
    messages.add(await page.locator('#sign-in-problem').innerText());
  }
  assert.equal(messages.size, 1, `one answer for every refusal: ${[...messages]}`);
  await patronSignIn(page, carrel, carrel.demoPatron(2));
  await page.waitForSelector('#sign-in-problem');
  assert.match(await page.locator('#sign-in-problem').innerText(), /Too many sign-in attempts/);
});
