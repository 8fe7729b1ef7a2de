import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {generateDockerfile, lintDockerfile, parseDockerfile, parseShell, type DockerfileSpec} from '../../src/image/index.js'
import {HARNESS_IN_IMAGE} from '../../src/runtime/harness/index.js'

const full: DockerfileSpec = {
  api: 'iris',
  baseImage: 'python:3.11-slim',
  systemPackages: ['libgomp1', 'curl=7.88.1-10+deb12u5'],
  requirements: 'requirements.txt',
  modelDir: 'model',
  predictorType: 'python',
  predictorPath: 'predictor.py',
  env: {OMP_NUM_THREADS: '1'},
  configFile: 'mlserve.yaml',
}

/** Each instruction as "KEYWORD args" with whitespace collapsed. */
function steps(text: string): string[] {
  return parseDockerfile(text).instructions.map((i) => `${i.keyword} ${i.raw.replace(/\s+/g, ' ')}`.trim())
}

function indexOf(list: string[], pattern: RegExp): number {
  const i = list.findIndex((s) => pattern.test(s))
  assert.ok(i >= 0, `no instruction matches ${pattern}:\n${list.join('\n')}`)
  return i
}

describe('generateDockerfile', () => {
  test('writes the layers in order: base, user, system packages, requirements, model, harness, code, env, config, then metadata', () => {
    const list = steps(generateDockerfile(full))
    const order = [
      /^FROM python:3\.11-slim$/,
      /^RUN .*\/etc\/passwd/,
      /^RUN apt-get update .*--no-install-recommends libgomp1 curl=7\.88\.1-10\+deb12u5 .*rm -rf \/var\/lib\/apt\/lists\/\*$/,
      /^COPY \.mlserve-build\/requirements\/ /,
      /^RUN .*pip install --no-cache-dir -r \/opt\/mlserve\/requirements\/requirements\.txt$/,
      /^COPY --chown=10001:10001 \.mlserve-build\/model\/ \/app\/model\/$/,
      new RegExp(`^COPY \\.mlserve-build/mlserve_harness ${HARNESS_IN_IMAGE}$`),
      /^COPY --chown=10001:10001 \.mlserve-build\/app\/ \/app\/$/,
      /^ENV PYTHONUNBUFFERED=1 /,
      /^ENV OMP_NUM_THREADS=1$/,
      /^COPY --chown=10001:10001 \.mlserve-build\/config\/mlserve\.yaml \/app\/mlserve\.yaml$/,
      /^WORKDIR \/app$/,
      /^USER 10001:10001$/,
      /^EXPOSE 8080$/,
      /^HEALTHCHECK /,
      /^LABEL /,
      /^CMD /,
    ]
    const positions = order.map((p) => indexOf(list, p))
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `out of order:\n${list.join('\n')}`)
    assert.equal(list.length, order.length, list.join('\n'))
  })

  test('the metadata: HEALTHCHECK runs the harness check, CMD serves, both in JSON form', () => {
    const parsed = parseDockerfile(generateDockerfile(full))
    const health = parsed.instructions.find((i) => i.keyword === 'HEALTHCHECK')!
    assert.match(health.args, new RegExp(`CMD \\["python3", "${HARNESS_IN_IMAGE}", "check"\\]`))
    const cmd = parsed.instructions.find((i) => i.keyword === 'CMD')!
    assert.deepEqual(cmd.json, ['python3', HARNESS_IN_IMAGE, 'serve'])
    const env = Object.fromEntries(parsed.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => i.pairs.map((p) => [p.key, p.value])))
    assert.equal(env.MLSERVE_HOST, '0.0.0.0')
    assert.equal(env.MLSERVE_PORT, '8080')
    assert.equal(env.MLSERVE_PROJECT_DIR, '/app')
    assert.equal(env.MLSERVE_STATUS_FILE, '/tmp/mlserve-ready')
    assert.equal(env.MLSERVE_PREDICTOR, 'predictor.py')
    assert.equal(env.MLSERVE_PROCESSES, '1', 'a default for plain docker run; the config’s value comes at run time')
    assert.equal(env.MLSERVE_CONFIG_JSON, undefined, 'the predictor config comes at run time')
  })

  test('sections with nothing to do make no instruction', () => {
    const minimal = generateDockerfile({...full, systemPackages: [], requirements: null, modelDir: null, env: {}, configFile: null})
    const list = steps(minimal)
    assert.ok(!list.some((s) => /apt-get/.test(s)), 'no apt layer')
    assert.ok(!list.some((s) => /pip install|requirements/.test(s)), 'no pip layer')
    assert.ok(!list.some((s) => /\.mlserve-build\/model/.test(s)), 'no model layer')
    assert.ok(!list.some((s) => /\.mlserve-build\/config/.test(s)), 'no config layer')
    assert.equal(list.filter((s) => s.startsWith('RUN ')).length, 1, 'only the user RUN')
    assert.equal(list.filter((s) => s.startsWith('COPY ')).length, 2, 'harness and code')
  })

  test('a command predictor: its command through sh with exec, no harness, an HTTP healthcheck on its readiness path', () => {
    const text = generateDockerfile({
      ...full,
      predictorType: 'command',
      predictorPath: undefined,
      command: '$MLSERVE_PYTHON -m uvicorn app:app --host 0.0.0.0 --port $PORT',
      readinessPath: '/ready',
    })
    const parsed = parseDockerfile(text)
    assert.ok(!text.includes('mlserve_harness'))
    const cmd = parsed.instructions.find((i) => i.keyword === 'CMD')!
    assert.deepEqual(cmd.json, ['/bin/sh', '-c', 'exec $MLSERVE_PYTHON -m uvicorn app:app --host 0.0.0.0 --port $PORT'])
    assert.match(parsed.instructions.find((i) => i.keyword === 'HEALTHCHECK')!.args, /\/ready/)
    const listCmd = parseDockerfile(generateDockerfile({...full, predictorType: 'command', command: ['python3', 'server.py']})).instructions.find((i) => i.keyword === 'CMD')!
    assert.deepEqual(listCmd.json, ['python3', 'server.py'])
    const chained = parseDockerfile(generateDockerfile({...full, predictorType: 'command', command: 'prepare && serve'})).instructions.find((i) => i.keyword === 'CMD')!
    assert.deepEqual(chained.json, ['/bin/sh', '-c', 'prepare && serve'])
  })

  test('predictor.env values are quoted so that $ and spaces survive', () => {
    const parsed = parseDockerfile(generateDockerfile({...full, env: {GREETING: 'hello $USER "you"'}}))
    const pair = parsed.instructions.flatMap((i) => i.pairs).find((p) => p.key === 'GREETING')
    assert.equal(pair?.value, 'hello $USER "you"')
  })

  test('is deterministic', () => {
    assert.equal(generateDockerfile(full), generateDockerfile({...full}))
  })

  test('passes every lint rule, except DL3008 for packages the user did not pin', () => {
    const findings = lintDockerfile(generateDockerfile(full))
    assert.deepEqual(
      findings.map((f) => f.rule),
      ['DL3008'],
    )
    assert.match(findings[0].message, /libgomp1/)
    assert.doesNotMatch(findings[0].message, /curl/)
    const pinned = lintDockerfile(generateDockerfile({...full, systemPackages: ['curl=7.88.1-10+deb12u5']}))
    assert.deepEqual(pinned, [])
    const command = lintDockerfile(generateDockerfile({...full, systemPackages: [], predictorType: 'command', command: 'serve --port $PORT'}))
    assert.deepEqual(command, [])
  })
})

describe('parseDockerfile', () => {
  test('joins continuations, drops comment lines inside them, and keeps line numbers', () => {
    const parsed = parseDockerfile(['# a comment', 'FROM debian:12', '', 'RUN apt-get update \\', '  # inside', '  && apt-get install -y curl', 'CMD ["a"]'].join('\n'))
    assert.deepEqual(
      parsed.instructions.map((i) => [i.keyword, i.line, i.endLine]),
      [
        ['FROM', 2, 2],
        ['RUN', 4, 6],
        ['CMD', 7, 7],
      ],
    )
    assert.equal(parsed.instructions[1].args.replace(/\s+/g, ' '), 'apt-get update && apt-get install -y curl')
    assert.deepEqual(
      parsed.comments.map((c) => c.line),
      [1, 5],
    )
  })

  test('tells JSON form from shell form', () => {
    const parsed = parseDockerfile('CMD ["python3", "app.py"]\nCMD python3 app.py\nENTRYPOINT [not json]')
    assert.deepEqual(parsed.instructions[0].json, ['python3', 'app.py'])
    assert.equal(parsed.instructions[1].json, null)
    assert.equal(parsed.instructions[2].json, null)
  })

  test('reads flags, ENV and ARG forms', () => {
    const parsed = parseDockerfile(
      ['COPY --chown=1:1 --from=build a b', 'ENV A=1 B="two words" C=\'x y\'', 'ENV LEGACY value with spaces', 'ARG NAME', 'ARG TOKEN=abc OTHER=2', 'LABEL a.b="c d"'].join('\n'),
    )
    assert.deepEqual(parsed.instructions[0].flags, [
      {name: 'chown', value: '1:1'},
      {name: 'from', value: 'build'},
    ])
    assert.equal(parsed.instructions[0].args, 'a b')
    assert.deepEqual(parsed.instructions[1].pairs, [
      {key: 'A', value: '1'},
      {key: 'B', value: 'two words'},
      {key: 'C', value: 'x y'},
    ])
    assert.deepEqual(parsed.instructions[2].pairs, [{key: 'LEGACY', value: 'value with spaces'}])
    assert.deepEqual(parsed.instructions[3].pairs, [{key: 'NAME', value: null}])
    assert.deepEqual(parsed.instructions[4].pairs, [
      {key: 'TOKEN', value: 'abc'},
      {key: 'OTHER', value: '2'},
    ])
    assert.deepEqual(parsed.instructions[5].pairs, [{key: 'a.b', value: 'c d'}])
  })

  test('honours the escape directive', () => {
    const parsed = parseDockerfile('# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN dir `\n  c:\\')
    assert.equal(parsed.escape, '`')
    assert.equal(parsed.instructions.length, 2)
    assert.equal(parsed.instructions[1].args.replace(/\s+/g, ' '), 'dir c:\\')
  })

  test('splits shell scripts into commands', () => {
    const script = parseShell("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y 'a b' ; echo \"x && y\" | tee f || true")
    assert.deepEqual(
      script.commands.map((c) => c.words[0]),
      ['apt-get', 'apt-get', 'echo', 'tee', 'true'],
    )
    assert.deepEqual(script.commands[1].assignments, {DEBIAN_FRONTEND: 'noninteractive'})
    assert.deepEqual(script.commands[1].words, ['apt-get', 'install', '-y', 'a b'])
    assert.equal(script.hasPipe, true)
    assert.equal(parseShell('a || b').hasPipe, false)
  })
})
