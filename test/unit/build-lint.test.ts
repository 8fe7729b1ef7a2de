import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {lintDockerfile, LINT_RULES, planBuild} from '../../src/image/index.js'
import {initProject, templateNames} from '../../src/scaffold/index.js'
import {loadProject} from '../../src/config/index.js'

/** The rule IDs found, for a Dockerfile whose lines are given. */
function rules(...lines: string[]): string[] {
  return lintDockerfile(lines.join('\n')).map((f) => f.rule)
}

function has(rule: string, ...lines: string[]): void {
  assert.ok(rules(...lines).includes(rule), `${rule} expected in:\n${lines.join('\n')}\nfound: ${rules(...lines).join(', ') || 'nothing'}`)
}

function hasNot(rule: string, ...lines: string[]): void {
  assert.ok(!rules(...lines).includes(rule), `${rule} not expected in:\n${lines.join('\n')}`)
}

const FROM = 'FROM debian:12'

describe('lint rules', () => {
  test('DL3006: tag base images explicitly', () => {
    has('DL3006', 'FROM debian')
    has('DL3006', 'FROM registry.example.com:5000/team/base')
    hasNot('DL3006', 'FROM debian:12')
    hasNot('DL3006', 'FROM registry.example.com:5000/team/base:1.0')
    hasNot('DL3006', 'FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')
    hasNot('DL3006', 'FROM scratch')
    hasNot('DL3006', 'FROM debian:12 AS build', 'FROM build')
    hasNot('DL3006', 'ARG BASE=debian:12', 'FROM $BASE')
  })

  test('DL3007: no latest', () => {
    has('DL3007', 'FROM debian:latest')
    hasNot('DL3007', 'FROM debian:12')
  })

  test('DL3008: pin apt versions', () => {
    has('DL3008', FROM, 'RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*')
    hasNot('DL3008', FROM, 'RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10 && rm -rf /var/lib/apt/lists/*')
    hasNot('DL3008', FROM, 'RUN apt-get install -y --no-install-recommends ./local.deb && rm -rf /var/lib/apt/lists/*')
  })

  test('DL3009: delete the apt lists in the same RUN', () => {
    has('DL3009', FROM, 'RUN apt-get update && apt-get install -y --no-install-recommends curl=1')
    hasNot('DL3009', FROM, 'RUN apt-get update && apt-get install -y --no-install-recommends curl=1 && rm -rf /var/lib/apt/lists/*')
    hasNot('DL3009', FROM, 'RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y --no-install-recommends curl=1')
    // Only the final stage matters.
    hasNot('DL3009', 'FROM debian:12 AS build', 'RUN apt-get update && apt-get install -y --no-install-recommends gcc=1', 'FROM debian:12', 'COPY --from=build /x /x')
  })

  test('DL3014: apt-get install -y', () => {
    has('DL3014', FROM, 'RUN apt-get install --no-install-recommends curl=1 && rm -rf /var/lib/apt/lists/*')
    hasNot('DL3014', FROM, 'RUN apt-get install --yes --no-install-recommends curl=1 && rm -rf /var/lib/apt/lists/*')
    hasNot('DL3014', FROM, 'RUN apt-get -qq install --no-install-recommends curl=1 && rm -rf /var/lib/apt/lists/*')
  })

  test('DL3015: --no-install-recommends', () => {
    has('DL3015', FROM, 'RUN apt-get install -y curl=1 && rm -rf /var/lib/apt/lists/*')
    hasNot('DL3015', FROM, 'RUN apt-get install -y --no-install-recommends curl=1 && rm -rf /var/lib/apt/lists/*')
    hasNot('DL3015', FROM, 'RUN apt-get -o APT::Install-Recommends=false install -y curl=1 && rm -rf /var/lib/apt/lists/*')
  })

  test('DL3020: COPY, not ADD, for local files', () => {
    has('DL3020', FROM, 'ADD app.py /app/')
    hasNot('DL3020', FROM, 'ADD https://example.com/x.tar.gz /opt/')
    hasNot('DL3020', FROM, 'ADD rootfs.tar.xz /')
    hasNot('DL3020', FROM, 'COPY app.py /app/')
  })

  test('DL3025: JSON form for CMD and ENTRYPOINT', () => {
    has('DL3025', FROM, 'CMD python3 app.py')
    has('DL3025', FROM, 'ENTRYPOINT /entry.sh')
    hasNot('DL3025', FROM, 'CMD ["python3", "app.py"]')
    hasNot('DL3025', FROM, 'ENTRYPOINT ["/entry.sh"]')
  })

  test('DL3002: the last USER is not root', () => {
    has('DL3002', FROM, 'USER app', 'USER root')
    has('DL3002', FROM, 'USER 0:0')
    hasNot('DL3002', FROM, 'USER root', 'RUN make', 'USER 10001:10001')
    hasNot('DL3002', 'FROM debian:12 AS build', 'USER root', 'FROM debian:12', 'USER app')
  })

  test('DL3042: pip install --no-cache-dir', () => {
    has('DL3042', FROM, 'RUN pip install -r requirements.txt')
    has('DL3042', FROM, 'RUN python3 -m pip install numpy==1.26.4')
    hasNot('DL3042', FROM, 'RUN pip install --no-cache-dir -r requirements.txt')
    hasNot('DL3042', FROM, 'RUN python3 -m pip install --no-cache-dir numpy==1.26.4')
    hasNot('DL3042', FROM, 'ENV PIP_NO_CACHE_DIR=1', 'RUN pip install numpy==1.26.4')
    hasNot('DL3042', FROM, 'RUN PIP_NO_CACHE_DIR=1 pip install numpy==1.26.4')
    hasNot('DL3042', FROM, 'RUN pip download numpy')
  })

  test('DL3059: consecutive RUNs of one or two commands', () => {
    has('DL3059', FROM, 'RUN a', 'RUN b')
    has('DL3059', FROM, 'RUN a', '# a comment does not separate them', 'RUN b && c')
    hasNot('DL3059', FROM, 'RUN a', 'WORKDIR /x', 'RUN b')
    hasNot('DL3059', FROM, 'RUN a && b && c', 'RUN d')
    hasNot('DL3059', FROM, 'RUN a', 'RUN --mount=type=cache,target=/root/.cache b')
  })

  test('DL3064: no secrets with values in ARG or ENV', () => {
    has('DL3064', FROM, 'ENV AWS_SECRET_ACCESS_KEY=abc')
    has('DL3064', FROM, 'ARG HF_TOKEN=hf_abc')
    has('DL3064', FROM, 'ENV DB_PASSWORD hunter2')
    hasNot('DL3064', FROM, 'ARG HF_TOKEN')
    hasNot('DL3064', FROM, 'ENV TOKENIZERS_PARALLELISM=false')
    hasNot('DL3064', FROM, 'ENV API_KEY=')
  })

  test('DL4006: pipefail before a piped RUN', () => {
    has('DL4006', FROM, 'RUN curl -s https://x | sh')
    hasNot('DL4006', FROM, 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]', 'RUN curl -s https://x | sh')
    hasNot('DL4006', FROM, 'RUN set -o pipefail && curl -s https://x | sh')
    hasNot('DL4006', FROM, 'RUN a || b')
  })

  test('every rule has a severity and a summary, and findings carry the line', () => {
    for (const [id, spec] of Object.entries(LINT_RULES)) {
      assert.match(id, /^DL\d{4}$/)
      assert.ok(['error', 'warning', 'info'].includes(spec.severity))
      assert.ok(spec.summary.length > 10)
    }
    const findings = lintDockerfile('FROM debian\n\nCMD run')
    assert.deepEqual(
      findings.map((f) => [f.rule, f.line, f.severity]),
      [
        ['DL3006', 1, 'warning'],
        ['DL3025', 3, 'warning'],
      ],
    )
  })

  test('ignore pragmas and the ignore option silence a rule', () => {
    assert.deepEqual(rules('# hadolint ignore=DL3006', 'FROM debian'), [])
    assert.deepEqual(rules('# hadolint global ignore=DL3025', 'FROM debian:12', 'CMD run'), [])
    assert.deepEqual(
      lintDockerfile('FROM debian\nCMD run', {ignore: ['DL3006']}).map((f) => f.rule),
      ['DL3025'],
    )
  })
})

describe('the templates pass their own CI workflow’s lint', () => {
  // Each template's .github/workflows/mlserve.yml runs `mlserve build --ci`, which fails on any finding.
  for (const template of templateNames()) {
    test(`${template}: the generated Dockerfile has no finding`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `mlserve-lint-${template}-`))
      try {
        await initProject({dir, template, name: 'ci', setup: false})
        assert.match(readFileSync(join(dir, '.github/workflows/mlserve.yml'), 'utf8'), /npx mlserve build --ci/)
        const plan = await planBuild({project: await loadProject(dir)})
        assert.deepEqual(plan.lint, [], plan.dockerfile)
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    })
  }

  for (const [template, packages] of [
    ['sklearn', /python3-sklearn=1\.2\.1\+dfsg-1 /],
    ['fastapi', /python3-fastapi=0\.92\.0-1 python3-uvicorn=0\.17\.6-1 /],
  ] as const) {
    test(`${template}: the offline route its mlserve.yaml gives (Debian’s packages, pinned) has no finding either`, async () => {
      const dir = mkdtempSync(join(tmpdir(), `mlserve-lint-${template}-debian-`))
      try {
        await initProject({dir, template, name: 'ci', setup: false})
        const yaml = readFileSync(join(dir, 'mlserve.yaml'), 'utf8')
        const route = [...yaml.matchAll(/^ {2}# {3}((?:base_image|system_packages): .*)$/gm)].map((m) => `  ${m[1]}`)
        assert.equal(route.length, 2, 'the commented route names a base and the packages')
        const offline = yaml.replace(/^ {2}base_image: .*$/m, route[0]).replace(/^ {2}system_packages: .*$/m, route[1])
        writeFileSync(join(dir, 'mlserve.yaml'), offline)
        writeFileSync(join(dir, 'requirements.txt'), '# the packages come from Debian\n')
        const plan = await planBuild({project: await loadProject(dir)})
        assert.match(plan.dockerfile, packages)
        assert.deepEqual(plan.lint, [], plan.dockerfile)
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    })
  }
})
