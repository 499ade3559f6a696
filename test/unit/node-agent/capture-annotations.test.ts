/** The pod annotations that exclude ports and CIDRs from capture. */
import assert from 'node:assert/strict';
import { MeshError } from '../../../common/errors.ts';
import {
  EXCLUDE_INBOUND_PORTS_ANNOTATION,
  EXCLUDE_OUTBOUND_IP_RANGES_ANNOTATION,
  EXCLUDE_OUTBOUND_PORTS_ANNOTATION,
  parseCaptureAnnotations,
} from '../../../node-agent/capture/annotations.ts';

describe('node-agent/capture parseCaptureAnnotations', () => {
  it('reads nothing from a pod without annotations', () => {
    assert.deepEqual(parseCaptureAnnotations(undefined, 'default/a'), {
      excludeInboundPorts: [],
      excludeOutboundPorts: [],
      excludeOutboundCidrs: [],
    });
  });

  it('reads comma-separated ports and CIDRs, trimming blanks and empty items', () => {
    const got = parseCaptureAnnotations(
      {
        [EXCLUDE_INBOUND_PORTS_ANNOTATION]: ' 9090 ,9091,',
        [EXCLUDE_OUTBOUND_PORTS_ANNOTATION]: '5432',
        [EXCLUDE_OUTBOUND_IP_RANGES_ANNOTATION]: '10.1.2.3/8, FD00::1',
        'other.io/ignored': 'x',
      },
      'default/a',
    );
    assert.deepEqual(got, {
      excludeInboundPorts: [9090, 9091],
      excludeOutboundPorts: [5432],
      excludeOutboundCidrs: ['10.0.0.0/8', 'fd00::1/128'],
    });
  });

  it('reports every bad value at once, naming the pod and the annotation', () => {
    let caught: unknown;
    try {
      parseCaptureAnnotations(
        {
          [EXCLUDE_INBOUND_PORTS_ANNOTATION]: '80,http,0',
          [EXCLUDE_OUTBOUND_PORTS_ANNOTATION]: '65536',
          [EXCLUDE_OUTBOUND_IP_RANGES_ANNOTATION]: '10.0.0.0/40,example.com',
        },
        'shop/cart',
      );
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof MeshError);
    assert.equal(caught.code, 'CAPTURE_BAD_ANNOTATION');
    assert.match(caught.message, /^pod shop\/cart: /);
    for (const bad of ['"http"', '"0"', '"65536"', '"10.0.0.0/40"', '"example.com"']) {
      assert.ok(caught.message.includes(bad), `${bad} missing from: ${caught.message}`);
    }
    assert.ok(caught.message.includes(EXCLUDE_OUTBOUND_PORTS_ANNOTATION));
    assert.notEqual(caught.hint, '');
  });
});
