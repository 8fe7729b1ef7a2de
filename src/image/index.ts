// The public API of src/image: Dockerfile generation, the build context (ignore
// rules, the secrets guard), the build through dockerode, image inspection
// (efficiency, waste) and lint. It uses config, and the runtime's container
// contract and harness.
export {buildImage, runBuild, followBuild, parseTag, gitVersion, sanitizeTag, assertCi, formatFinding, type BuildEvent, type BuildOptions, type BuildResult, type BuildStep, type CiFailure, type TagTarget} from './build.js'
export {planBuild, requirementsInfo, type BuildPlan, type PlanOptions, type RequirementsInfo} from './build-plan.js'
export {generateDockerfile, APP_UID, APP_USER, CONTEXT_PATHS, REQUIREMENTS_DIR_IN_IMAGE, type DockerfileSpec} from './generate.js'
export {walkProject, findSecretFiles, packContext, contextBytes, inlineEntry, fileEntry, CONTEXT_MTIME, RESERVED_DIR, type ContextEntry, type ProjectFile} from './context.js'
export {IgnoreMatcher, DEFAULT_IGNORES, parseIgnoreFile} from './ignore.js'
export {secretFileReason, isSecretName, type SecretFile, type SecretEnv} from './secrets.js'
export {parseDockerfile, parseShell, DockerfileSyntaxError, type Instruction, type ParsedDockerfile} from './dockerfile.js'
export {lintDockerfile, LINT_RULES, type LintFinding, type Severity} from './lint.js'
export {computeEfficiency, evaluateCi, thresholdsFromFlags, DEFAULT_CI_THRESHOLDS, type CiThresholds, type CiRuleResult, type EfficiencyResult, type LayerEntry} from './efficiency.js'
export {inspectImage, readSavedImage, analyzeSavedImage, cleanCreatedBy, type InspectReport, type LayerReport, type HistoryStep} from './inspect.js'
export {renderInspect, formatBytes, formatPercent} from './render.js'
