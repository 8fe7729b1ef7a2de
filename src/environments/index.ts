// Environments: the named targets of `mlserve push` and `mlserve deploy` (an
// engine, a registry, a Docker endpoint or a kubeconfig context), kept in the
// user's config directory (environments.yaml, mode 0600), chosen by --env,
// else $MLSERVE_ENV, else `mlserve env use`.
export {
  addEnvironment,
  DEFAULT_GATEWAY_PORT,
  DEFAULT_NAMESPACE,
  ENGINES,
  listEnvironments,
  removeEnvironment,
  resolveEnvironment,
  resolveEnvironmentWithSource,
  useEnvironment,
  type Engine,
  type Environment,
  type EnvironmentSource,
} from './store.js'
export {configDir, credentialsFile, environmentsFile} from './paths.js'
export {readTextIfExists, SECRET_FILE_MODE, writeSecretFileAtomic} from './secret-file.js'
export {isEnvironmentName, isSwarmLabelKey, parseDockerHost, parseNodeLabel, parseRegistry, registryHost, SWARM_LABEL_KEY_RULE} from './fields.js'
export {describeEnvironment} from './describe.js'
