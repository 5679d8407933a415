{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "7ad5b5e2e515c21d6924257e8af824e927ffe4e809de3fb64a0bcb0349ce71e3",
  "signature": "LEdP+hvwRtZhJVA/WkWY3/A5GifG6rd/CJnFyzIp54HEc3rz7fb0Am5YVVcIqFuKYxKZLvUNxwUv0KkiO1YFDQ=="
}
