export {
  loadServiceModule,
  collectServices,
  ServiceModuleError,
  type LoadServiceModuleOptions,
} from './load-service-module';
