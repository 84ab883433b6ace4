// Screenshots of the pages, to look at what was built (not a test):
//   node screenshots.mjs [folder]        (default: ./screenshots)
// Each page at a desktop width and at a phone's.
import { mkdirSync } from 'node:fs';
import { Carrel, Browser, patronSignIn, staffSignIn } from './carrel.mjs';

const folder = process.argv[2] ?? 'screenshots';
mkdirSync(folder, { recursive: true });
const carrel = await Carrel.start();
const browser = await Browser.launch();
try {
  const shoot = async (page, name) => {
    for (const [width, label] of [[1200, 'wide'], [390, 'phone']]) {
      await page.setViewportSize({ width, height: 900 });
      await page.screenshot({ path: `${folder}/${name}-${label}.png`, fullPage: true });
    }
  };
  const visitor = await browser.visitor(carrel);
  for (const [path, name] of [['/', 'home'], ['/privacy', 'notice'], ['/privacy/versions', 'versions'], ['/my/sign-in', 'patron-sign-in'], ['/staff/sign-in', 'staff-sign-in'], ['/nowhere', 'not-found']]) {
    await visitor.goto(carrel.base + path);
    await shoot(visitor, name);
  }
  const patron = await browser.visitor(carrel);
  await patronSignIn(patron, carrel, carrel.demoPatron(0));
  await patron.waitForURL('**/my');
  await shoot(patron, 'my-account');
  for (const [path, name] of [['/my/data', 'my-data'], ['/my/pin', 'my-pin']]) {
    await patron.goto(carrel.base + path);
    await shoot(patron, name);
  }
  const staff = await browser.visitor(carrel);
  await staffSignIn(staff, carrel, 'director');
  await staff.waitForURL('**/staff');
  await shoot(staff, 'staff-home');
  for (const [path, name] of [['/staff/privacy', 'staff-privacy'], ['/staff/disclosures', 'staff-disclosures'], ['/staff/disclosures/D-1', 'staff-disclosure']]) {
    await staff.goto(carrel.base + path);
    await shoot(staff, name);
  }
  const clerk = await browser.visitor(carrel);
  await staffSignIn(clerk, carrel, 'clerk');
  await clerk.waitForURL('**/staff');
  await clerk.goto(`${carrel.base}/staff/desk`);
  await shoot(clerk, 'desk');
  await clerk.getByLabel('Scan or type a library card').fill(carrel.demoPatron(0).card);
  await Promise.all([clerk.waitForNavigation(), clerk.keyboard.press('Enter')]);
  await shoot(clerk, 'desk-patron');
  await clerk.getByLabel('Show more, for').selectOption('account');
  await Promise.all([clerk.waitForNavigation(), clerk.getByRole('button', { name: 'Show details' }).click()]);
  await shoot(clerk, 'desk-revealed');
  for (const [path, name] of [['/staff/desk/checkin', 'desk-checkin'], ['/staff/desk/pull-list', 'desk-pull-list'], ['/staff/patrons', 'patrons'], ['/staff/items?q=the', 'catalogue']]) {
    await clerk.goto(carrel.base + path);
    await shoot(clerk, name);
  }
  const supervisor = await browser.visitor(carrel);
  await staffSignIn(supervisor, carrel, 'supervisor');
  await supervisor.waitForURL('**/staff');
  for (const [path, name] of [['/staff/patrons/new', 'patron-new'], ['/staff/items/import', 'import']]) {
    await supervisor.goto(carrel.base + path);
    await shoot(supervisor, name);
  }
  console.log(`screenshots in ${folder}`);
} finally {
  await browser.close();
  await carrel.close();
}
