{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "d9602044e499eeff7899837c90233c937e893a29a4630e501910ba19b673a278",
  "signature": "hTv8cGIJRkdo3b08psdiV/VQFZjI6trvwlZK1v1dqUL06dY94SaPItlKXhcUZykWhjPaToKUIAZfbTv9HqFBDQ=="
}
