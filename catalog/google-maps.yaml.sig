{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "ce51403f9d500afe87a8f6d068a033fcd53cb0cccfe3e1181e6e47b82365151e",
  "signature": "wD5KrBUyN7xBSsayDC9D1hDnUYYsQuRzjqZKUGYk+SYh2qteakfzEO4H7mBcL+VAzHdXjeOMsG4UUPKuFuHNCg=="
}
