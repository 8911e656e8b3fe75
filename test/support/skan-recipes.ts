// The signed fields of each SKAdNetwork version, in the order Apple joins them (SPEC.md), for the
// test-side signers (Node's and WebCrypto's), written independently of src/.

export const SIGNED: Record<string, string[]> = {
  '1.0': ['ad-network-id', 'campaign-id', 'app-id', 'transaction-id'],
  '2.0': ['version', 'ad-network-id', 'campaign-id', 'app-id', 'transaction-id', 'redownload', 'source-app-id'],
  '2.1': ['version', 'ad-network-id', 'campaign-id', 'app-id', 'transaction-id', 'redownload', 'source-app-id'],
  '2.2': ['version', 'ad-network-id', 'campaign-id', 'app-id', 'transaction-id', 'redownload', 'source-app-id', 'fidelity-type'],
  '3.0': ['version', 'ad-network-id', 'campaign-id', 'app-id', 'transaction-id', 'redownload', 'source-app-id', 'fidelity-type', 'did-win'],
  '4.0': [
    'version',
    'ad-network-id',
    'source-identifier',
    'app-id',
    'transaction-id',
    'redownload',
    'source-app-id',
    'source-domain',
    'fidelity-type',
    'did-win',
    'postback-sequence-index',
  ],
};
