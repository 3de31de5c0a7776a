export {
  loadServiceModule,
  loadServiceModules,
  type ServiceModuleSource,
  collectServices,
  noServiceMessage,
  ServiceModuleError,
  type ServiceModuleFailure,
  type LoadServiceModuleOptions,
} from './load-service-module';
export {
  evaluateServiceModules,
  type EvaluateServiceModulesOptions,
  type ServiceModuleOutcome,
} from './evaluate-service-modules';
export {
  formatModuleSet,
  parseModuleSet,
  moduleSetKeys,
  retainSharedModules,
  sharedModuleCount,
  MODULE_SET_PREFIX,
  type ModuleSet,
  type LinkedModule,
} from './module-set';
