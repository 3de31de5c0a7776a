export {
  loadServiceModule,
  loadServiceModules,
  type ServiceModuleSource,
  collectServices,
  ServiceModuleError,
  type LoadServiceModuleOptions,
} from './load-service-module';
