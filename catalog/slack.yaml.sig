{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "6512aaf31de84be2cfb597216712010460949db73db383ccbfc8ae6d43853ea1",
  "signature": "wFf8ZwQUgoTH1K4LmUkS2AYOvS+nmDDkA75sjN13IWYiydikXxy95O/3T2zZbpZVEomPPA3vNRfg7S7UnyHdDw=="
}
