// The public API of src/image: Dockerfile generation, the build context (ignore
// rules, the secrets guard), the build, the check that an image can run the
// harness, image inspection (efficiency, waste) and lint. It uses config,
// src/docker for the engine, and the runtime only through the harness's door
// (src/runtime/harness/index.ts).
export {buildImage, runBuild, followBuild, assertCi, formatFinding, gitVersion, type BuildEvent, type BuildResult} from './build.js'
export {planBuild, requirementsInfo, type PlanOptions} from './build-plan.js'
export {generateDockerfile, type DockerfileSpec} from './generate.js'
export {walkProject, contextBytes, inlineEntry, fileEntry, type ContextEntry} from './context.js'
export {IgnoreMatcher, DEFAULT_IGNORES, parseIgnoreFile} from './ignore.js'
export {secretFileReason, isSecretName} from './secrets.js'
export {parseDockerfile, parseShell} from './dockerfile.js'
export {lintDockerfile, LINT_RULES, type LintFinding} from './lint.js'
export {computeEfficiency, evaluateCi, DEFAULT_CI_THRESHOLDS, type CiThresholds, type LayerEntry} from './efficiency.js'
export {inspectImage, readSavedImage, analyzeSavedImage, cleanCreatedBy, type InspectReport} from './inspect.js'
export {renderInspect, formatBytes} from './render.js'
