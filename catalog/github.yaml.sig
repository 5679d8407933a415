{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "ed00461191a3a1e5da77414e9f8ba57d567e20746e2a24d9f8163da6b832570a",
  "signature": "q7xfLdnOp3ltJDmSmNrOgZ0N3nlRiZcXNLgcutavUnGbe0TvZVUbgwTaR5f7L4BuNoonYL9O5/RC0A7HQXfTDA=="
}
