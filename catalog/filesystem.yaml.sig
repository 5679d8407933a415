{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "0e055b79ac504133c08dbcf655d70906c9e99ec164c4361bf6d68dcf7d7ebf9c",
  "signature": "M7TIDBCqS40BaFRBLgAdrGRybAJO03BQhr/2XWaluFR3TtmvwBUoS8eYgFmLoqqCwTKc6HUKnXmj0DXktbobCQ=="
}
