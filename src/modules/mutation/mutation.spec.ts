import { VM_OWNER_PREFIX } from '../pool/owner-index';
import { ownerKey } from './mutation';

describe('ownerKey', () => {
  it('keys objects by kind, namespace and name, or the admission uid before there is a name', () => {
    expect(ownerKey('pod', 'ns', 'p', 'u1')).toBe('pod/ns/p');
    expect(ownerKey('vm', 'ns', '', 'u2')).toBe('vm/ns/~u2');
  });

  it('names VirtualMachines with the prefix whose duplicates the pool counts', () => {
    expect(ownerKey('vm', 'ns', 'a', 'u').startsWith(VM_OWNER_PREFIX)).toBe(true);
    expect(ownerKey('pod', 'vm', 'a', 'u').startsWith(VM_OWNER_PREFIX)).toBe(false);
  });
});
