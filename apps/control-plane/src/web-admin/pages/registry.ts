import type { Page } from '../page';
import { overviewPage } from './overview';
import { servicesPage } from './services';
import { placeholder } from './placeholder';

/**
 * Every page of the web admin, in navigation order: adding a page is one file in pages/ and one line here.
 * A `placeholder(...)` line is a page not written yet (it says so); replace it with the page's import.
 */
export const PAGES: readonly Page[] = [
  overviewPage,
  servicesPage,
  placeholder('/channels', 'Channels'),
  placeholder('/security', 'Security'),
  placeholder('/connections', 'Connections'),
  placeholder('/schedules', 'Schedules'),
  placeholder('/jobs', 'Jobs'),
  placeholder('/mirroring', 'Mirroring'),
  placeholder('/audit', 'Audit'),
  placeholder('/users', 'Users'),
];
