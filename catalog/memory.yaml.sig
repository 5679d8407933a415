{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "4b0b556a008ab1d2293ec6f4d310c872b87363ccfd375b6d25078ac567dc8037",
  "signature": "4mhkxkdbAgzwcw1TK2PW36PFH0qmFwx3/WdduUUsCssecKCVddh9yT/28DpSwla35XblB1ZtwvQhVNYvMR+pAA=="
}
