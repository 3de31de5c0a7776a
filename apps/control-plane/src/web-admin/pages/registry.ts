import type { Page } from '../page';
import { overviewPage } from './overview';
import { servicesPage } from './services';
import { channelsPage } from './channels';
import { securityPage } from './security';
import { connectionsPage } from './connections';
import { schedulesPage } from './schedules';
import { jobsPage } from './jobs';
import { mirroringPage } from './mirroring';
import { auditPage } from './audit';
import { usersPage } from './users';
import { trafficPage } from './traffic';

/**
 * Every page of the web admin, in navigation order: adding a page is one file in pages/ and one line here.
 * A `placeholder(...)` line is a page not written yet (it says so); replace it with the page's import.
 */
export const PAGES: readonly Page[] = [
  overviewPage,
  servicesPage,
  trafficPage,
  channelsPage,
  securityPage,
  connectionsPage,
  schedulesPage,
  jobsPage,
  mirroringPage,
  auditPage,
  usersPage,
];
