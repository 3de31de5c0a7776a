export {
  loadServiceModule,
  loadServiceModules,
  type ServiceModuleSource,
  collectServices,
  ServiceModuleError,
  type ServiceModuleFailure,
  type LoadServiceModuleOptions,
} from './load-service-module';
export {
  evaluateServiceModules,
  type EvaluateServiceModulesOptions,
  type ServiceModuleOutcome,
} from './evaluate-service-modules';
