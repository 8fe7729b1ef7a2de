// The one registry of user-facing errors. Every error mlserve shows a user is
// declared here with its code, message, suggested fix and exit code, and
// documented under the same code in docs/errors.md (a unit test holds the two
// in step). This module imports nothing of ours, so every part may use it.

export interface ErrorSpec<P> {
  /** Process exit code: 2 for bad input or config, 1 for a failure at run time. */
  exitCode: number
  message: (params: P) => string
  suggestion: (params: P) => string
  /** For the gateway's answers: the HTTP status the body goes out with. */
  httpStatus?: number
}

const define = <P = Record<string, never>>(spec: ErrorSpec<P>): ErrorSpec<P> => spec

/** Free text (a reason, another error's message) closed with one period: never "..". */
export const sentence = (text: string): string => (/[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`)

export const errorRegistry = {
  MLS_INVALID_FLAG: define<{flag: string; value: string; expected: string}>({
    exitCode: 2,
    message: (p) => `Invalid value for ${p.flag}: received ${JSON.stringify(p.value)}.`,
    suggestion: (p) => `Pass ${p.flag} as ${p.expected}.`,
  }),
  MLS_FLAG_MISSING: define<{command: string; flags: string[]}>({
    exitCode: 2,
    message: (p) => `mlserve ${p.command} needs ${p.flags.join(' and ')}, which ${p.flags.length === 1 ? 'was' : 'were'} not given.`,
    suggestion: (p) => `Add ${p.flags.map((f) => `${f} VALUE`).join(' ')} to the command line; \`mlserve ${p.command} --help\` describes each flag.`,
  }),
  MLS_UNKNOWN_FLAG: define<{command: string; flags: string[]; closest: string[]}>({
    exitCode: 2,
    message: (p) => `mlserve ${p.command} has no flag${p.flags.length === 1 ? '' : 's'} ${p.flags.join(', ')}.`,
    suggestion: (p) =>
      `${p.closest.length > 0 ? `Did you mean ${p.closest.join(', ')}? ` : ''}\`mlserve ${p.command} --help\` lists the flags it takes.`,
  }),
  MLS_FLAG_CONFLICT: define<{command: string; reasons: string[]}>({
    exitCode: 2,
    message: (p) => `These flags of mlserve ${p.command} do not go together: ${p.reasons.join('; ')}.`,
    suggestion: (p) => `Drop one of each conflicting pair, or add the flag another depends on; \`mlserve ${p.command} --help\` says which flags exclude or need others.`,
  }),
  MLS_ARG_MISSING: define<{command: string; args: string[]}>({
    exitCode: 2,
    message: (p) => `mlserve ${p.command} needs ${p.args.join(' and ')}, which ${p.args.length === 1 ? 'was' : 'were'} not given.`,
    suggestion: (p) => `Give ${p.args.join(' and ')} after the command's name; \`mlserve ${p.command} --help\` shows the usage.`,
  }),
  MLS_UNEXPECTED_ARG: define<{command: string; args: string[]; usage: string}>({
    exitCode: 2,
    message: (p) => `mlserve ${p.command} takes ${p.usage}, but also received ${p.args.map((a) => JSON.stringify(a)).join(', ')}.`,
    suggestion: () => 'Remove the extra words, quote a value that holds spaces, or check for a flag name missing its leading --.',
  }),
  MLS_UNKNOWN_COMMAND: define<{command: string; closest: string | undefined; available: string[]}>({
    exitCode: 2,
    message: (p) => `"${p.command}" is not an mlserve command.`,
    suggestion: (p) =>
      `${p.closest ? `Did you mean \`mlserve ${p.closest}\`? ` : ''}The commands are ${p.available.join(', ')}; \`mlserve --help\` describes them.`,
  }),
  MLS_USAGE: define<{command: string; detail: string}>({
    exitCode: 2,
    message: (p) => `The command line of mlserve ${p.command} could not be read: ${p.detail}`,
    suggestion: (p) => `Check it against \`mlserve ${p.command} --help\`.`,
  }),
  MLS_CONFIG_NOT_FOUND: define<{path: string}>({
    exitCode: 2,
    message: (p) => `No mlserve.yaml found at ${p.path}.`,
    suggestion: () =>
      'Pass the project directory or the config file path, or create a project with `mlserve init DIR --template python`.',
  }),
  MLS_CONFIG_INVALID: define<{file: string; count: number}>({
    exitCode: 2,
    message: (p) => `${p.file} has ${p.count} error${p.count === 1 ? '' : 's'}.`,
    suggestion: () =>
      'Fix each field listed above; `mlserve schema` prints the JSON Schema, and docs/config.md lists every field.',
  }),
  MLS_API_NOT_FOUND: define<{name: string; file: string; available: string[]}>({
    exitCode: 2,
    message: (p) => `No API named "${p.name}" in ${p.file}.`,
    suggestion: (p) =>
      p.available.length > 0
        ? `Use one of: ${p.available.join(', ')}.`
        : `Add a RealtimeAPI named "${p.name}" to ${p.file}.`,
  }),
  MLS_API_AMBIGUOUS: define<{file: string; available: string[]; retry?: string}>({
    exitCode: 2,
    message: (p) => `${p.file} defines several APIs: ${p.available.join(', ')}.`,
    // `retry` is the command line again with an API named, for commands that take the API otherwise than as --api.
    suggestion: (p) => (p.retry ? `Name the API, as in \`${p.retry}\`.` : 'Choose one with --api NAME.'),
  }),
  MLS_NO_REALTIME_API: define<{file: string}>({
    exitCode: 2,
    message: (p) => `${p.file} defines no RealtimeAPI (only TrafficSplitters or skipped Cortex kinds).`,
    suggestion: () =>
      'Add a RealtimeAPI (a mapping with name and a predictor section) to the file, or pass the config file that defines your APIs.',
  }),
  MLS_CONFIG_UNREADABLE: define<{file: string; reason: string}>({
    exitCode: 2,
    message: (p) => `Cannot read ${p.file}: ${sentence(p.reason)}`,
    suggestion: () => 'Check that the path is a readable file (permissions, or a directory where a file was expected).',
  }),
  MLS_TEMPLATE_UNKNOWN: define<{template: string; available: string[]}>({
    exitCode: 2,
    message: (p) => `Unknown template "${p.template}".`,
    suggestion: (p) => `Use one of: ${p.available.join(', ')} (see \`mlserve init --list\`).`,
  }),
  MLS_INIT_FILES_EXIST: define<{dir: string; files: string[]}>({
    exitCode: 2,
    message: (p) => `${p.dir} already holds files init would overwrite: ${p.files.join(', ')}.`,
    suggestion: () => 'Choose an empty directory, or pass --force to overwrite these files.',
  }),
  MLS_INIT_DIR_INVALID: define<{dir: string; problems: string[]}>({
    exitCode: 2,
    message: (p) => `mlserve init cannot write a project into ${p.dir}: ${p.problems.join('; ')}.`,
    suggestion: () => 'Choose another directory, or move these paths out of the way (--force overwrites files, never directories).',
  }),
  MLS_INVALID_API_NAME: define<{name: string; proposal: string}>({
    exitCode: 2,
    message: (p) =>
      `"${p.name}" is not a valid API name: names are DNS-1123 labels (lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters).`,
    suggestion: (p) => `Use "${p.proposal}" instead (pass it with --name).`,
  }),
  MLS_TEMPLATE_SETUP_FAILED: define<{template: string; step: string; output: string}>({
    exitCode: 1,
    message: (p) => `The ${p.template} template's ${p.step} failed:\n${p.output}`,
    suggestion: () =>
      'Check that the interpreter has the packages the template needs (see the template README), or set MLSERVE_PYTHON to one that does.',
  }),
  MLS_INTERPRETER_NOT_FOUND: define<{interpreter: string; api: string}>({
    exitCode: 2,
    message: (p) => `Python interpreter "${p.interpreter}" for API "${p.api}" was not found or does not run.`,
    suggestion: () =>
      'Set predictor.interpreter in mlserve.yaml or the MLSERVE_PYTHON environment variable to a working python3 (for example /usr/bin/python3).',
  }),
  MLS_PREDICTOR_TYPE_UNSUPPORTED: define<{api: string; type: string}>({
    exitCode: 2,
    message: (p) => `API "${p.api}" uses predictor type "${p.type}", which mlserve does not serve.`,
    suggestion: () =>
      'Use `type: python` with a PythonPredictor class, or `type: command` with an HTTP server command that reads $PORT.',
  }),
  MLS_PREDICTOR_NOT_FOUND: define<{api: string; path: string}>({
    exitCode: 2,
    message: (p) => `API "${p.api}": predictor file ${p.path} does not exist.`,
    suggestion: () => 'Fix predictor.path in mlserve.yaml; it is relative to the directory that holds mlserve.yaml.',
  }),
  MLS_REPLICA_START_FAILED: define<{api: string; replica: number; reason: string}>({
    exitCode: 1,
    message: (p) => `API "${p.api}" replica ${p.replica} failed to start: ${p.reason}`,
    suggestion: () =>
      'Fix the error shown above (run the predictor under the same interpreter to reproduce it), then start again.',
  }),
  MLS_READINESS_TIMEOUT: define<{api: string; seconds: number}>({
    exitCode: 1,
    message: (p) => `API "${p.api}" did not become ready within ${p.seconds}s.`,
    suggestion: () =>
      'If loading the model is slow, raise --readiness-timeout; otherwise check the replica logs above for a hang.',
  }),
  MLS_PORT_IN_USE: define<{port: number; host: string}>({
    exitCode: 2,
    message: (p) => `Port ${p.port} on ${p.host} is already in use.`,
    suggestion: (p) => `Stop the process using it (\`ss -ltnp 'sport = :${p.port}'\` shows it) or pass another --port.`,
  }),
  MLS_ENDPOINT_RESERVED: define<{api: string; endpoint: string; reserved: string[]}>({
    exitCode: 2,
    message: (p) => `API "${p.api}" uses endpoint ${p.endpoint}, which the gateway reserves for itself (${p.reserved.join(', ')}).`,
    suggestion: (p) => `Set networking.endpoint of "${p.api}" to another path, such as /${p.api}-api.`,
  }),
  MLS_GPU_UNAVAILABLE: define<{requested: number; available: number; detail: string}>({
    exitCode: 2,
    message: (p) => `${p.requested} GPU(s) requested but ${p.available} available: ${p.detail}`,
    suggestion: () =>
      'Set compute.gpu to 0 to run on CPU, lower the replica count, or run on a machine where `nvidia-smi -L` lists enough GPUs.',
  }),
  MLS_RUNTIME_NOT_FOUND: define<{detail: string}>({
    exitCode: 1,
    message: (p) => `No running mlserve runtime found: ${p.detail}`,
    suggestion: () => 'Start one with `mlserve run DIR`, or pass --url of a running gateway.',
  }),
  MLS_DATA_INVALID: define<{flag: string; detail: string}>({
    exitCode: 2,
    message: (p) => `Invalid ${p.flag}: ${p.detail}`,
    suggestion: (p) => `Pass ${p.flag} as inline JSON ('{"x": 1}') or as @path/to/file.json.`,
  }),
  MLS_PREDICT_FAILED: define<{url: string; attempts: number; detail: string}>({
    exitCode: 1,
    message: (p) => `Prediction at ${p.url} failed after ${p.attempts} attempt(s): ${p.detail}`,
    suggestion: () =>
      'Check that the runtime is up (`mlserve status`); raise --retries or --timeout if the replicas are busy.',
  }),
  MLS_LOADTEST_TARGET: define<{detail: string}>({
    exitCode: 2,
    message: (p) => `No load-test target: ${p.detail}`,
    suggestion: () =>
      'Pass a URL (`mlserve loadtest http://127.0.0.1:8888/iris`) or an API of a project (`mlserve loadtest --api iris [DIR]`), not both.',
  }),
  MLS_LOADTEST_UNREACHABLE: define<{url: string; detail: string}>({
    exitCode: 1,
    message: (p) => `Cannot reach ${p.url}: ${p.detail}`,
    suggestion: () => 'Check that the server is up and listening on that address (`mlserve status` lists running gateways).',
  }),
  MLS_LOADTEST_DATA_INVALID: define<{detail: string}>({
    exitCode: 2,
    message: (p) => `Invalid --data: ${p.detail}`,
    suggestion: () =>
      'Pass --data as inline JSON (\'{"x": 1}\'), @FILE for one body, @FILE.ndjson for one body per line, or @DIR for one body per file.',
  }),
  MLS_DOCKER_UNAVAILABLE: define<{address: string; detail: string}>({
    exitCode: 1,
    message: (p) => `The Docker engine at ${p.address} is not reachable: ${sentence(p.detail)}`,
    suggestion: () =>
      'Start the engine (`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd), make sure this user may use its socket (the docker group), or set DOCKER_HOST to a running engine; `docker info` should answer. `mlserve run` works without Docker on its default process driver.',
  }),
  MLS_DOCKER_IMAGE_NOT_FOUND: define<{image: string}>({
    exitCode: 2,
    message: (p) => `The Docker engine has no image ${p.image}; mlserve never pulls images.`,
    suggestion: (p) => `Build it with \`mlserve build\` (tag ${p.image}), or name an image that \`docker images\` lists.`,
  }),
  MLS_DOCKER_NO_BUILT_IMAGE: define<{api: string}>({
    exitCode: 2,
    message: (p) => `The Docker engine has no image of API "${p.api}": without --image, mlserve run --driver docker runs the newest image tagged ${p.api}:*, and there is none.`,
    suggestion: (p) => `Build one with \`mlserve build --api ${p.api}\`, or name an image with --image (one image then serves every API).`,
  }),
  MLS_DOCKER_NO_GPU_RUNTIME: define<{apis: string[]; address: string; runtimes: string[]}>({
    exitCode: 2,
    message: (p) =>
      `API${p.apis.length === 1 ? '' : 's'} ${p.apis.map((a) => `"${a}"`).join(', ')} ask${p.apis.length === 1 ? 's' : ''} for GPUs (compute.gpu), but the Docker engine at ${p.address} cannot give containers NVIDIA GPUs: its runtimes are ${p.runtimes.join(', ') || 'none'}, with no nvidia runtime, no nvidia-container-runtime-hook for --gpus, and no CDI spec for nvidia.com/gpu.`,
    suggestion: () =>
      'Install the NVIDIA Container Toolkit and run `sudo nvidia-ctk runtime configure --runtime=docker`, then restart dockerd (`docker info` should list the nvidia runtime); or set compute.gpu to 0, or run without --driver docker.',
  }),
  MLS_SECRET_FILES: define<{count: number; file: string}>({
    exitCode: 2,
    message: (p) =>
      `Refusing to build: ${p.count} file${p.count === 1 ? '' : 's'} that look${p.count === 1 ? 's' : ''} like secrets would enter the build context, and from there an image layer:`,
    suggestion: () =>
      'Leave each out with a line in .dockerignore (or build.exclude in mlserve.yaml); if one is not a secret, allow it by path with --allow-secret PATH.',
  }),
  MLS_SECRET_ENV: define<{count: number; file: string}>({
    exitCode: 2,
    message: (p) =>
      `Refusing to build: ${p.count} ENV or ARG name${p.count === 1 ? '' : 's'} that look${p.count === 1 ? 's' : ''} like secrets carr${p.count === 1 ? 'ies' : 'y'} a value, which the image would keep in its config and history:`,
    suggestion: () =>
      'Pass secrets to the container at run time instead (docker run -e, or a secret store), and remove the value here; if a name is not a secret, allow it with --allow-secret NAME.',
  }),
  MLS_BUILD_INPUT_INVALID: define<{field: string; path: string; detail: string}>({
    exitCode: 2,
    message: (p) => `${p.field} ${p.path}: ${p.detail}.`,
    suggestion: (p) => `Fix ${p.field} in mlserve.yaml; paths are relative to the directory of mlserve.yaml and must stay inside it.`,
  }),
  MLS_DOCKERFILE_INVALID: define<{file: string; line: number; detail: string}>({
    exitCode: 2,
    message: (p) => `${p.file}:${p.line}: ${p.detail}.`,
    suggestion: () => 'Fix the Dockerfile (see https://docs.docker.com/reference/dockerfile/), or remove build.dockerfile to use the generated one.',
  }),
  MLS_BUILD_FAILED: define<{step: string; reason: string}>({
    exitCode: 1,
    message: (p) => `The image build failed at ${p.step}: ${p.reason}`,
    suggestion: () =>
      'Fix the step shown above (its output is listed); `mlserve build --dockerfile-only` prints the Dockerfile. A missing system package or pip in the base image is a common cause.',
  }),
  MLS_CI_CHECKS_FAILED: define<{image: string; count: number}>({
    exitCode: 1,
    message: (p) => `${p.image} fails ${p.count} CI check${p.count === 1 ? '' : 's'}:`,
    suggestion: () =>
      'Fix the Dockerfile findings and the wasted bytes listed (`mlserve inspect IMAGE` shows the paths that waste most), or loosen the thresholds (--lowest-efficiency, --highest-user-wasted-percent, --highest-wasted-bytes) or skip a rule with --ignore-rule.',
  }),
  MLS_IMAGE_PYTHON_INCOMPLETE: define<{image: string; base: string | null; modules: string[]; error: string}>({
    exitCode: 1,
    message: (p) =>
      `Image ${p.image} cannot run mlserve's harness: its python3 lacks the standard-library module${p.modules.length === 1 ? '' : 's'} ${p.modules.join(', ')} (${p.error}).`,
    suggestion: (p) =>
      `The base image${p.base ? ` ${p.base}` : ''} has a partial Python, such as Debian's python3-minimal. Build FROM a base with the whole standard library: python:3.11-slim, or a Debian or Ubuntu image that installs the python3 package (not python3-minimal); set build.base_image in mlserve.yaml, or change FROM in your Dockerfile.`,
  }),
  MLS_IMAGE_CHECK_FAILED: define<{image: string; base: string | null; reason: string}>({
    exitCode: 1,
    message: (p) => `Image ${p.image} cannot run mlserve's harness: ${p.reason}.`,
    suggestion: (p) =>
      `Build FROM a base with python3 3.8 or newer and its whole standard library${p.base ? ` (the base is ${p.base})` : ''}, such as python:3.11-slim; set build.base_image in mlserve.yaml, or change FROM in your Dockerfile. The output above is the check's.`,
  }),
  // The gateway's answers to clients: each body is {error, code, suggestion, ...}
  // built from these entries (src/runtime/gateway/answers.ts), never from a
  // library's message. The exit code is unused for them.
  MLS_GATEWAY_SHED: define<{api: string; maxReplicaConcurrency: number}>({
    exitCode: 1,
    httpStatus: 503,
    message: (p) =>
      `API "${p.api}" is at capacity: every ready replica holds max_replica_concurrency (${p.maxReplicaConcurrency}) ${p.maxReplicaConcurrency === 1 ? 'request' : 'requests'}.`,
    suggestion: () =>
      'Retry after the Retry-After header\'s seconds; to shed less, add replicas or raise max_replica_concurrency (`mlserve tune` sizes both).',
  }),
  MLS_GATEWAY_NO_REPLICA: define<{api: string}>({
    exitCode: 1,
    httpStatus: 503,
    message: (p) => `No replica of API "${p.api}" is ready.`,
    suggestion: () => 'Retry after the Retry-After header\'s seconds; `mlserve status` shows whether replicas are starting or restarting.',
  }),
  MLS_GATEWAY_DRAINING: define<Record<string, never>>({
    exitCode: 1,
    httpStatus: 503,
    message: () => 'The gateway is shutting down.',
    suggestion: () => 'Retry after the Retry-After header\'s seconds, against a runtime that is serving.',
  }),
  MLS_GATEWAY_TIMEOUT: define<{timeoutMs: number}>({
    exitCode: 1,
    httpStatus: 504,
    message: (p) => `The request did not finish within the gateway timeout of ${p.timeoutMs} ms.`,
    suggestion: () => 'Raise `mlserve run --timeout`, or add replicas if requests waited in the queue.',
  }),
  MLS_GATEWAY_REPLICA_FAILED: define<{replica: string; reason: string}>({
    exitCode: 1,
    httpStatus: 502,
    message: (p) => `Replica ${p.replica} failed to answer: ${sentence(p.reason)}`,
    suggestion: () => "The replica's log (stderr of `mlserve run`) says why; it is restarted when its process died.",
  }),
  MLS_GATEWAY_BODY_TOO_LARGE: define<{limit: number}>({
    exitCode: 1,
    httpStatus: 413,
    message: (p) => `The request body exceeds the limit of ${p.limit} bytes.`,
    suggestion: () => 'Send a smaller body, or raise `mlserve run --max-body-size`.',
  }),
  MLS_GATEWAY_METHOD_NOT_ALLOWED: define<{method: string; path: string; allowed: string}>({
    exitCode: 1,
    httpStatus: 405,
    message: (p) => `${p.method} is not allowed on ${p.path}.`,
    suggestion: (p) => `Use ${p.allowed}${p.allowed === 'POST' ? ' to send predictions' : ''}.`,
  }),
  MLS_GATEWAY_NOT_FOUND: define<{path: string; endpoints: string[]}>({
    exitCode: 1,
    httpStatus: 404,
    message: (p) => `No API is served at ${p.path}.`,
    suggestion: (p) => `POST to one of: ${p.endpoints.join(', ') || '(no API)'}; GET /status lists them.`,
  }),
  MLS_GATEWAY_REQUEST_TIMEOUT: define<{seconds: number; part: string}>({
    exitCode: 1,
    httpStatus: 408,
    message: (p) => `The request's ${p.part} did not arrive within ${p.seconds} s.`,
    suggestion: () => 'Send the whole request promptly; the gateway closes connections that trickle.',
  }),
  MLS_GATEWAY_BAD_REQUEST: define<{reason: string}>({
    exitCode: 1,
    httpStatus: 400,
    message: (p) => `The request is not valid HTTP/1.1: ${p.reason}.`,
    suggestion: () => 'Send a well-formed HTTP/1.1 request (RFC 9112).',
  }),
  // The gateway's control routes (/traffic, /apply): loopback only, and a token for what changes state.
  MLS_GATEWAY_CONTROL_FORBIDDEN: define<{path: string; address: string}>({
    exitCode: 1,
    httpStatus: 403,
    message: (p) => `${p.path} answers only requests from this machine's loopback; this one came from ${p.address}.`,
    suggestion: () => 'Run `mlserve traffic` or `mlserve apply` on the machine that runs the runtime.',
  }),
  MLS_GATEWAY_CONTROL_UNAUTHORIZED: define<{path: string}>({
    exitCode: 1,
    httpStatus: 401,
    message: (p) => `Changing the runtime through ${p.path} needs its token, and the request carried none or a wrong one.`,
    suggestion: () =>
      "Use `mlserve traffic` or `mlserve apply` as the user who started `mlserve run`: they read the token from the runtime's state file, which only that user can read. A deployed gateway (`mlserve gateway`, which also wants the token off loopback to read /traffic and /status) takes its deployment's token: `mlserve traffic --env NAME` sends it.",
  }),
  MLS_GATEWAY_CONTROL_BAD_REQUEST: define<{path: string; reason: string}>({
    exitCode: 2,
    httpStatus: 400,
    message: (p) => `The request to ${p.path} is not valid: ${p.reason}.`,
    suggestion: () => 'Send it with `mlserve traffic` or `mlserve apply`; docs/traffic.md describes the control routes.',
  }),
  MLS_GATEWAY_SPLITTER_NOT_FOUND: define<{splitter: string; available: string[]}>({
    exitCode: 2,
    httpStatus: 404,
    message: (p) => `This runtime serves no TrafficSplitter named "${p.splitter}".`,
    suggestion: (p) =>
      p.available.length > 0 ? `The runtime serves: ${p.available.join(', ')}.` : 'The runtime serves no TrafficSplitter; add one to mlserve.yaml and run `mlserve apply`.',
  }),
  MLS_GATEWAY_BAD_WEIGHTS: define<{splitter: string; reason: string}>({
    exitCode: 2,
    httpStatus: 400,
    message: (p) => `The weights for TrafficSplitter "${p.splitter}" are not valid: ${p.reason}.`,
    suggestion: () => 'Give each API of the splitter a whole-number weight from 0 to 100, with the non-shadow weights adding up to 100, e.g. `mlserve traffic set iris iris-a=90 iris-b=10`.',
  }),
  MLS_GATEWAY_NOTHING_TO_ROLL_BACK: define<{splitter: string}>({
    exitCode: 1,
    httpStatus: 409,
    message: (p) => `TrafficSplitter "${p.splitter}" has no earlier weights to restore: they have not changed since the runtime started.`,
    suggestion: () => '`mlserve traffic show` lists the weights in force; set others with `mlserve traffic set`.',
  }),
  MLS_GATEWAY_APPLY_FAILED: define<{reason: string}>({
    exitCode: 1,
    httpStatus: 500,
    message: (p) => `The runtime could not apply the new config: ${sentence(p.reason)}`,
    suggestion: () => 'Nothing that serves traffic was changed for the APIs that failed; the log of `mlserve run` says why, fix mlserve.yaml and run `mlserve apply` again.',
  }),
  // The batch endpoint (POST /<endpoint>/batch, src/runtime/gateway/batch.ts).
  MLS_BATCH_NOT_A_LIST: define<{path: string; reason: string}>({
    exitCode: 1,
    httpStatus: 400,
    message: (p) => `The body of POST ${p.path} must be a JSON list of payloads, one per prediction; ${p.reason}.`,
    suggestion: () => 'Send a JSON array with Content-Type: application/json, e.g. [{"x": 1}, {"x": 2}]; each item is what a single POST to the endpoint would send.',
  }),
  MLS_BATCH_TOO_MANY_ITEMS: define<{api: string; items: number; maxItems: number}>({
    exitCode: 1,
    httpStatus: 413,
    message: (p) => `The batch holds ${p.items} items; API "${p.api}" takes at most ${p.maxItems} in one batch (predictor.batch_endpoint.max_items).`,
    suggestion: (p) => `Split it into batches of at most ${p.maxItems} items, or raise predictor.batch_endpoint.max_items in mlserve.yaml.`,
  }),
  MLS_BATCH_FAILED: define<{api: string; replica: string; error: string; errorId: string | null}>({
    exitCode: 1,
    httpStatus: 500,
    message: (p) => `The predictor of API "${p.api}" failed the whole batch on replica ${p.replica}: ${p.error}${p.errorId ? ` (error_id ${p.errorId})` : ''}.`,
    suggestion: () => "predict_batch raised (or returned other than one result per payload); the replica's log has the traceback under the error_id. To fail one item alone, return its exception in its place.",
  }),
  MLS_BATCH_INVALID_ANSWER: define<{api: string; replica: string; reason: string}>({
    exitCode: 1,
    httpStatus: 502,
    message: (p) => `Replica ${p.replica} of API "${p.api}" answered the batch with ${p.reason}.`,
    suggestion: () => 'The replica should run the harness of this mlserve version (rebuild the image with `mlserve build`); its log says more.',
  }),
  MLS_ROLLOUT_ROLLED_BACK: define<{splitter: string; api: string; step: number; reason: string; restored: string}>({
    exitCode: 1,
    message: (p) => `The rollout of "${p.api}" on TrafficSplitter "${p.splitter}" failed at ${p.step}%: ${p.reason}. The weights were rolled back to ${p.restored}.`,
    suggestion: (p) => `\`mlserve traffic show ${p.splitter}\` shows the API's figures; fix ${p.api} and roll out again.`,
  }),
  MLS_ROLLOUT_NOT_ENOUGH_REPLICAS: define<{api: string; share: number; ready: number; needed: number; source: string}>({
    exitCode: 1,
    message: (p) => `API "${p.api}" has ${p.ready} ready replica${p.ready === 1 ? '' : 's'}, but ${p.share}% of the traffic needs ${p.needed} (from ${p.source}).`,
    suggestion: (p) => `Raise autoscaling.min_replicas of ${p.api} to at least ${p.needed} and run \`mlserve apply\` before shifting this share; the weights were left as they were.`,
  }),
  MLS_ASYNC_JOB_NOT_FOUND: define<{api: string; id: string; ttl: string}>({
    exitCode: 1,
    httpStatus: 404,
    message: (p) => `AsyncAPI "${p.api}" has no job ${JSON.stringify(p.id)}.`,
    suggestion: (p) => `Use the id a POST to the endpoint returned; results are kept for ${p.ttl} after a job finishes (async.result_ttl), then removed.`,
  }),
  MLS_ASYNC_STORE_FAILED: define<{api: string; store: string; reason: string}>({
    exitCode: 1,
    httpStatus: 503,
    message: (p) => `AsyncAPI "${p.api}" could not use its job store: ${sentence(p.reason)}`,
    suggestion: (p) => (p.store === 'redis' ? 'Check that the Redis server in async.redis_url is up, then send the request again.' : "Check the disk holding the project's .mlserve/async directory (space, permissions), then send the request again."),
  }),
  MLS_ASYNC_REDIS_UNREACHABLE: define<{api: string; url: string; reason: string}>({
    exitCode: 1,
    message: (p) => `AsyncAPI "${p.api}" could not connect to Redis at ${p.url}: ${sentence(p.reason)}`,
    suggestion: () => 'Start Redis (Debian: `apt-get install redis-server`, or scripts/setup.sh --with-redis), or fix async.redis_url (MLSERVE_REDIS_URL overrides it); async.store: embedded needs no server.',
  }),
  MLS_ASYNC_STORE_OPEN_FAILED: define<{api: string; dir: string; reason: string}>({
    exitCode: 1,
    message: (p) => `AsyncAPI "${p.api}" could not open its embedded job store in ${p.dir}: ${sentence(p.reason)}`,
    suggestion: () => 'Make the directory writable (it is under the project\'s .mlserve/), or use async.store: redis.',
  }),
  MLS_ASYNC_NO_BATCH: define<{api: string; endpoint: string}>({
    exitCode: 1,
    httpStatus: 404,
    message: (p) => `AsyncAPI "${p.api}" has no batch endpoint: POST ${p.endpoint}/batch is served for RealtimeAPIs with predictor.batch_endpoint only.`,
    suggestion: (p) => `Submit each payload as a job of its own with POST ${p.endpoint} (each answers {"id"}), or serve the predictor as a RealtimeAPI with predictor.batch_endpoint.`,
  }),
  MLS_ASYNC_APPLY_UNSUPPORTED: define<{api: string; change: string}>({
    exitCode: 1,
    message: (p) => `mlserve apply cannot ${p.change} AsyncAPI "${p.api}" in a running runtime.`,
    suggestion: () => 'Stop `mlserve run` and start it again with the new mlserve.yaml: queued jobs are kept in the store and run after the restart. Predictor changes of an AsyncAPI whose async section stays the same are applied live.',
  }),
  // Environments (`mlserve env …`, --env), registry credentials (`mlserve login`) and `mlserve push`.
  MLS_ENV_NOT_FOUND: define<{name: string; source: string; known: string[]; file: string}>({
    exitCode: 2,
    message: (p) => `No environment named "${p.name}" (from ${p.source}) in ${p.file}.`,
    suggestion: (p) =>
      `${p.known.length > 0 ? `The environments are ${p.known.join(', ')}; ` : 'There are no environments yet; '}add one with \`mlserve env add ${p.name} --engine swarm|kubernetes\` (\`mlserve env list\` shows them).`,
  }),
  MLS_ENV_NONE_CHOSEN: define<{known: string[]}>({
    exitCode: 2,
    message: () => 'No environment was chosen: neither --env nor MLSERVE_ENV is set, and `mlserve env use` chose none.',
    suggestion: (p) =>
      p.known.length > 0
        ? `Pass --env NAME, set MLSERVE_ENV=NAME, or choose a default with \`mlserve env use NAME\`; the environments are ${p.known.join(', ')}.`
        : 'Add one first with `mlserve env add NAME --engine swarm|kubernetes [--registry HOST:PORT]`, then pass --env NAME, set MLSERVE_ENV=NAME, or run `mlserve env use NAME`.',
  }),
  MLS_ENV_EXISTS: define<{name: string; file: string}>({
    exitCode: 2,
    message: (p) => `An environment named "${p.name}" already exists in ${p.file}.`,
    suggestion: (p) => `Add --force to replace it, pick another name, or remove it first with \`mlserve env remove ${p.name}\`.`,
  }),
  MLS_ENV_INVALID_NAME: define<{name: string}>({
    exitCode: 2,
    message: (p) => `"${p.name}" is not a valid environment name.`,
    suggestion: () => 'Use lowercase letters, digits and - . _ (starting with a letter or digit, at most 63 characters), such as prod or staging-eu.',
  }),
  MLS_ENV_FILE_INVALID: define<{file: string; reason: string}>({
    exitCode: 2,
    message: (p) => `The environments file ${p.file} cannot be read: ${sentence(p.reason)}`,
    suggestion: (p) => `Fix the file by hand (docs/deploy.md, "Environments", shows its shape), or move it aside and add the environments again with \`mlserve env add\`. Its directory comes from MLSERVE_CONFIG_DIR, else XDG_CONFIG_HOME/mlserve (${p.file}).`,
  }),
  MLS_REGISTRY_AUTH_FAILED: define<{registry: string; username: string | null; source: string; detail: string}>({
    exitCode: 1,
    message: (p) =>
      `The registry ${p.registry} refused ${p.username === null ? 'an anonymous client' : `the credentials of "${p.username}" (from ${p.source})`}: ${sentence(p.detail)}`,
    suggestion: (p) =>
      `Log in again with \`echo PASSWORD | mlserve login ${p.registry} --username USER --password-stdin\`, or set MLSERVE_REGISTRY_USERNAME and MLSERVE_REGISTRY_PASSWORD; check the user may push to this repository.`,
  }),
  MLS_REGISTRY_UNREACHABLE: define<{registry: string; detail: string}>({
    exitCode: 1,
    message: (p) => `The registry ${p.registry} is not reachable: ${sentence(p.detail)}`,
    suggestion: (p) =>
      `Check that the registry runs and listens at ${p.registry} (\`curl -i http://${p.registry}/v2/\` answers 200 or 401), and that the Docker engine may reach it: a registry without TLS must be listed in the engine's insecure-registries (127.0.0.0/8 is by default).`,
  }),
  MLS_REGISTRY_NO_PASSWORD: define<{registry: string}>({
    exitCode: 2,
    message: (p) => `mlserve login ${p.registry} received no password on its standard input.`,
    suggestion: (p) => `Pipe the password in with --password-stdin, as docker login does: \`echo "$PASSWORD" | mlserve login ${p.registry} --username USER --password-stdin\` (a password on the command line would stay in the shell's history).`,
  }),
  MLS_PUSH_NO_REGISTRY: define<{env: string}>({
    exitCode: 2,
    message: (p) => `Environment "${p.env}" has no registry to push to.`,
    suggestion: (p) => `Give it one with \`mlserve env add ${p.env} --engine ENGINE --registry HOST:PORT --force\`, or push with --registry HOST:PORT.`,
  }),
  MLS_PUSH_NO_IMAGE: define<{api: string}>({
    exitCode: 2,
    message: (p) => `The Docker engine has no image of API "${p.api}" to push: mlserve push sends the newest image tagged ${p.api}:*, and there is none.`,
    suggestion: (p) => `Build it first with \`mlserve build --api ${p.api}\` (it tags ${p.api}:VERSION), then push again.`,
  }),
  MLS_PUSH_CHECKS_FAILED: define<{image: string; count: number}>({
    exitCode: 1,
    message: (p) => `${p.image} fails ${p.count} image check${p.count === 1 ? '' : 's'}, so under --ci it was not pushed:`,
    suggestion: () =>
      'Fix what is listed and build again (`mlserve inspect IMAGE` shows the paths that waste most), or loosen the thresholds (--lowest-efficiency, --highest-user-wasted-percent, --highest-wasted-bytes).',
  }),
  MLS_PUSH_FAILED: define<{reference: string; attempts: number; detail: string}>({
    exitCode: 1,
    message: (p) => `Pushing ${p.reference} failed after ${p.attempts} attempt${p.attempts === 1 ? '' : 's'}: ${sentence(p.detail)}`,
    suggestion: () => 'Run the push again: layers the registry already received are not sent twice. If it keeps failing, check the registry\'s logs and free disk space.',
  }),
  // Swarm: the gateway image and the autoscaler (src/swarm/gateway-image.ts, autoscaler*.ts).
  MLS_SWARM_GATEWAY_DIST_STALE: define<{root: string; reason: string}>({
    exitCode: 1,
    message: (p) => `The gateway image carries mlserve's compiled code, which is not up to date in ${p.root}: ${sentence(p.reason)}`,
    suggestion: () => 'Run `npm run build` in the mlserve checkout, then deploy again (the image is built from dist/, not compiled on the way).',
  }),
  MLS_SWARM_GATEWAY_NODE_UNSUITABLE: define<{node: string; engine: string}>({
    exitCode: 1,
    message: (p) => `The gateway image carries the Node runtime this CLI runs on (${p.node}), which cannot run on the Docker engine's ${p.engine}.`,
    suggestion: () => 'Run the deploy from a Linux machine of the engine\'s architecture (for example on the Swarm manager itself), with Node 20.5 or newer.',
  }),
  MLS_SWARM_GATEWAY_BASE_MISSING: define<{base: string}>({
    exitCode: 1,
    message: (p) => `The gateway image's base ${p.base} is not on the Docker engine.`,
    suggestion: (p) => `Pull or load it first (\`docker pull ${p.base}\`), or choose a glibc Debian or Ubuntu image the engine has.`,
  }),
  MLS_SWARM_GATEWAY_IMAGE_FAILED: define<{tag: string; base: string; reason: string}>({
    exitCode: 1,
    message: (p) => `Building the gateway image ${p.tag} on ${p.base} failed: ${sentence(p.reason)}`,
    suggestion: () => 'The last lines of the build are shown below. A base without libstdc++ or glibc (such as an Alpine image) cannot run the carried Node binary: choose a Debian or Ubuntu base.',
  }),
  MLS_SWARM_AUTOSCALER_CONFIG_UNREADABLE: define<{file: string; reason: string}>({
    exitCode: 2,
    message: (p) => `The autoscaler's config ${p.file} cannot be read: ${sentence(p.reason)}`,
    suggestion: () => 'Pass --config with the JSON file mlserve deploy writes (a Swarm config mounted in the autoscaler service).',
  }),
  MLS_SWARM_AUTOSCALER_CONFIG_INVALID: define<{file: string}>({
    exitCode: 2,
    message: (p) => `The autoscaler's config ${p.file} is not valid.`,
    suggestion: () => 'Each problem is listed below with its field. The file is written by mlserve deploy; deploy again with this mlserve to rewrite it.',
  }),
  // Swarm deploy (src/swarm/deploy.ts, status.ts, remove.ts; `mlserve deploy`, `deploy --status`, `delete`).
  MLS_SWARM_NOT_ACTIVE: define<{address: string; state: string}>({
    exitCode: 1,
    message: (p) => `The Docker engine at ${p.address} is not part of a Swarm (its Swarm state is "${p.state || 'inactive'}"), so it cannot run services.`,
    suggestion: () => 'Make it a Swarm manager with `docker swarm init` (one node is a Swarm too), or point the environment at a manager: `mlserve env add NAME --engine swarm --docker-host tcp://MANAGER:2376`.',
  }),
  MLS_SWARM_NOT_MANAGER: define<{address: string}>({
    exitCode: 1,
    message: (p) => `The Docker engine at ${p.address} is a Swarm worker: only a manager creates and updates services.`,
    suggestion: () => 'Point the environment at a manager node (`--docker-host` of `mlserve env add`), or promote this node with `docker node promote` on a manager.',
  }),
  MLS_DEPLOY_NO_IMAGE: define<{api: string}>({
    exitCode: 2,
    message: (p) => `The Docker engine has no image of API "${p.api}": deploy runs the newest image tagged ${p.api}:*, and there is none.`,
    suggestion: (p) => `Build it first with \`mlserve build --api ${p.api}\`, then deploy again.`,
  }),
  MLS_DEPLOY_NAME_TAKEN: define<{kind: string; name: string; owner: string}>({
    exitCode: 1,
    message: (p) => `The Swarm already has a ${p.kind} named ${p.name}, which ${p.owner}.`,
    suggestion: (p) => `Remove it (\`mlserve delete --env ENV\` from its project, or \`docker ${p.kind} rm ${p.name}\` if it is not mlserve's), or deploy this project from a directory of another name: the directory's name is the project's name on the cluster.`,
  }),
  MLS_DEPLOY_ENGINE_REFUSED: define<{action: string; name: string; detail: string}>({
    exitCode: 1,
    message: (p) => `The Swarm refused to ${p.action} ${p.name}: ${sentence(p.detail)}`,
    suggestion: () => 'The engine\'s reason is above. Objects created before this one are left in place; fix the cause and deploy again, or remove everything with `mlserve delete --env ENV`.',
  }),
  MLS_DEPLOY_ROLLED_BACK: define<{service: string; reason: string}>({
    exitCode: 1,
    message: (p) => `The update of ${p.service} failed and Swarm rolled it back: ${sentence(p.reason)}`,
    suggestion: () => 'The failing tasks\' errors are listed below; the previous version serves meanwhile. A task that stays unhealthy past --health-start-period, or exits, fails the update: look at `docker service logs SERVICE` and `mlserve deploy --status`, fix the code and deploy again.',
  }),
  MLS_DEPLOY_UPDATE_PAUSED: define<{service: string; state: string; reason: string}>({
    exitCode: 1,
    message: (p) => `The update of ${p.service} stopped (${p.state}): ${sentence(p.reason || 'Swarm gave no reason')}`,
    suggestion: (p) => `Look at its tasks with \`mlserve deploy --status\`; \`docker service rollback ${p.service}\` returns it to the previous version, and a new deploy updates it again.`,
  }),
  MLS_DEPLOY_NO_CAPACITY: define<{service: string; needs: string; seconds: number; rolledBack: boolean}>({
    exitCode: 1,
    message: (p) => `No node could reserve ${p.needs} for a new task of ${p.service} within ${p.seconds}s${p.rolledBack ? '; the update was rolled back and the previous version serves' : ''}.`,
    suggestion: () => 'A rolling update starts each new task before its old one stops (start-first), so the nodes need one more task\'s compute.cpu and compute.mem free beside the running tasks. Lower compute.cpu/compute.mem, free or add a node, or deploy fewer APIs to this Swarm; `mlserve deploy --status` shows the tasks.',
  }),
  MLS_DEPLOY_TIMEOUT: define<{seconds: number; waiting: string[]}>({
    exitCode: 1,
    message: (p) => `The deploy did not finish within ${p.seconds}s: still waiting for ${p.waiting.join('; ')}.`,
    suggestion: () => 'The tasks\' states and errors are listed below. A task pending with "no suitable node" needs more CPU or memory than the nodes can reserve (compute.cpu, compute.mem) or a node matching its placement; one "starting" for long is loading its model (raise --health-start-period and --timeout). Swarm keeps working on it after mlserve stops waiting.',
  }),
  MLS_DEPLOY_NOT_FOUND: define<{env: string; project: string | null; dir: string}>({
    exitCode: 1,
    message: (p) => `Nothing of ${p.project === null ? 'any project' : `project "${p.project}"`} is deployed to environment "${p.env}" (no deploy record in ${p.dir}).`,
    suggestion: () => 'Deploy it with `mlserve deploy --env ENV` from the project\'s directory. A deploy made on another machine writes its record there: pass --url (and the token of `mlserve deploy --json`) instead.',
  }),
  // The gateway of remote replicas (`mlserve gateway --plan`, what deploy runs in a Swarm service or a pod).
  MLS_GATEWAY_PLAN_NOT_FOUND: define<{file: string}>({
    exitCode: 2,
    message: (p) => `The gateway plan ${p.file} does not exist or cannot be read.`,
    suggestion: () => '`mlserve deploy` writes the plan (a Swarm config or a ConfigMap mounted in the container); check the mount and the path given to --plan.',
  }),
  MLS_GATEWAY_PLAN_NOT_JSON: define<{file: string; reason: string}>({
    exitCode: 2,
    message: (p) => `The gateway plan ${p.file} is not JSON: ${sentence(p.reason)}`,
    suggestion: () => 'Deploy again with `mlserve deploy`, which writes the plan as JSON; a plan edited by hand must stay valid JSON.',
  }),
  MLS_GATEWAY_PLAN_INVALID: define<{source: string; reason: string}>({
    exitCode: 2,
    message: (p) => `The gateway plan from ${p.source} is not one this mlserve can serve: ${sentence(p.reason)}`,
    suggestion: () => 'Deploy again with `mlserve deploy` from the same mlserve version as the gateway image, so the plan and the gateway agree.',
  }),
  MLS_GATEWAY_PLAN_TOKEN_UNREADABLE: define<{file: string; reason: string}>({
    exitCode: 2,
    message: (p) => `The gateway's token file ${p.file} cannot be used: ${sentence(p.reason)}`,
    suggestion: () => 'Mount the deployment\'s secret at that path (Swarm: /run/secrets/NAME), or set MLSERVE_GATEWAY_TOKEN; without a token the gateway serves predictions but refuses every change.',
  }),
  // Kubernetes output (`mlserve deploy` to an environment of engine kubernetes; src/kubernetes).
  MLS_K8S_INVALID: define<{object: string; path: string; reason: string}>({
    exitCode: 1,
    message: (p) => `The Kubernetes object ${p.object} does not pass its schema: ${p.path} ${sentence(p.reason)}`,
    suggestion: () => 'This is a bug in mlserve\'s manifests, or a config value Kubernetes cannot carry; please report it with the object and the path above (`mlserve deploy --dry-run` shows the object).',
  }),
  MLS_K8S_NO_IMAGE_VERSION: define<{dir: string}>({
    exitCode: 2,
    message: (p) => `The project ${p.dir} has no git version to tag its images with (it is not a git repository, or has no commit).`,
    suggestion: () => 'Commit the project (`git init && git add -A && git commit`), build and push it (`mlserve build`, `mlserve push --env NAME`), then deploy: the manifests name the image REGISTRY/API:GIT-VERSION that push made.',
  }),
  MLS_K8S_SETTING_INVALID: define<{name: string; value: string; expected: string}>({
    exitCode: 2,
    message: (p) => `${p.name} is "${p.value}"; expected ${p.expected}.`,
    suggestion: (p) => `Set ${p.name} to ${p.expected}, or unset it for the default (docs/deploy.md, "Kubernetes").`,
  }),
  MLS_K8S_NO_KUBECONFIG: define<{file: string; reason: string}>({
    exitCode: 2,
    message: (p) => `No usable kubeconfig at ${p.file} (${p.reason.replace(/\.$/, '')}): mlserve cannot reach a Kubernetes cluster.`,
    suggestion: () => 'Point the environment at one (`mlserve env add NAME --engine kubernetes --kubeconfig FILE`), or set $KUBECONFIG; or write the manifests without a cluster: `mlserve deploy --env NAME --dry-run [--out DIR]`.',
  }),
  MLS_K8S_CONTEXT_NOT_FOUND: define<{context: string; file: string; available: string[]}>({
    exitCode: 2,
    message: (p) => `The kubeconfig ${p.file} has no context "${p.context}" (it has: ${p.available.length > 0 ? p.available.join(', ') : 'none'}).`,
    suggestion: () => 'Fix the environment\'s context (`mlserve env add NAME --engine kubernetes --context CONTEXT`), or leave it out to use the kubeconfig\'s current-context.',
  }),
  MLS_K8S_UNREACHABLE: define<{server: string; reason: string}>({
    exitCode: 1,
    message: (p) => `The Kubernetes API server ${p.server} cannot be reached: ${sentence(p.reason)}`,
    suggestion: () => 'Check that the cluster is up and that this machine reaches it (`kubectl --kubeconfig FILE version`); nothing was applied.',
  }),
  MLS_K8S_REJECTED: define<{object: string; stage: string; reason: string}>({
    exitCode: 1,
    message: (p) => `The Kubernetes API server rejected ${p.object} in the ${p.stage}: ${sentence(p.reason)}`,
    suggestion: (p) =>
      p.stage === 'server-side dry run'
        ? 'Nothing was applied: every object is dry-run first. A missing kind (ScaledObject, HTTPRoute) means KEDA or the Gateway API is not installed in the cluster; RBAC errors need rights to patch these kinds in the namespace.'
        : 'The objects before it in the list were applied; fix the cause and deploy again (server-side apply is idempotent).',
  }),
} as const

export type ErrorCode = keyof typeof errorRegistry
type ParamsOf<C extends ErrorCode> = Parameters<(typeof errorRegistry)[C]['message']>[0]

/** An error a user can fix. Commands render it as code, message and suggestion, without a stack. */
export class MlserveError extends Error {
  readonly code: ErrorCode
  readonly suggestion: string
  readonly exitCode: number
  /** Extra lines shown under the message, e.g. each located config error. */
  readonly details: string[]

  constructor(code: ErrorCode, message: string, suggestion: string, exitCode: number, details: string[], cause?: unknown) {
    super(message, cause === undefined ? undefined : {cause})
    this.name = 'MlserveError'
    this.code = code
    this.suggestion = suggestion
    this.exitCode = exitCode
    this.details = details
  }

  toJSON(): {code: string; message: string; suggestion: string; details: string[]} {
    return {code: this.code, message: this.message, suggestion: this.suggestion, details: this.details}
  }
}

export function mlserveError<C extends ErrorCode>(
  code: C,
  params: ParamsOf<C>,
  options: {details?: string[]; cause?: unknown} = {},
): MlserveError {
  const spec = errorRegistry[code] as ErrorSpec<ParamsOf<C>>
  return new MlserveError(
    code,
    spec.message(params),
    spec.suggestion(params),
    spec.exitCode,
    options.details ?? [],
    options.cause,
  )
}

export function isMlserveError(error: unknown): error is MlserveError {
  return error instanceof MlserveError
}
