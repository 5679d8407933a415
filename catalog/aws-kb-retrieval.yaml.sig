{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "0184fe0868416dbed021a5b4ee263eb0006a59dfe419bf70918cc9b975eb9f3a",
  "signature": "tbOgbRPVywhCU9jGfMDiVMTwLNZXq/vsEYpcA0Sp7rgWKK4WP2m6CKvGrHFDu0jpj1oGzkRbawVajFwbInAnDQ=="
}
