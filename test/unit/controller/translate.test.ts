/** translate() end to end on golden cases: the whole IR and every status from one world. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'mocha';
import { translate } from '../../../controller/translate/index.ts';
import { expectGolden, goldenCases, worldFromYaml } from '../../helpers/golden.ts';

const DIR = join(import.meta.dirname, '..', '..', 'golden', 'translate');

describe('controller/translate', () => {
  const cases = goldenCases(DIR);
  it('has golden cases', () => assert.ok(cases.length >= 1));
  for (const [name, file] of cases) {
    it(`golden: ${name}`, () => {
      const { ir, statuses } = translate(worldFromYaml(readFileSync(file, 'utf8')));
      expectGolden(DIR, name, 'ir', ir);
      expectGolden(DIR, name, 'status', statuses);
    });
  }

  it('binds the route to the waypoint and splits 90/10 (mesh case)', () => {
    const { ir } = translate(worldFromYaml(readFileSync(join(DIR, 'mesh.in.yaml'), 'utf8')));
    const reviews = ir.services.find((s) => s.key === 'shop/reviews');
    assert.equal(reviews?.waypoint?.gateway.name, 'waypoint');
    const table = ir.tables.find((t) => t.service === 'shop/reviews' && t.port === 80);
    const weights = table?.producer[0]?.backends.map((b) => b.weight);
    assert.deepEqual(weights, [90, 10]);
    assert.ok(ir.authorization.some((p) => p.layer === 'L7' && p.action === 'ALLOW'));
  });
});
