{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "aa19668d57001a73a6f9927588ed5fd8fcc7c992fb7de8afeeb1f7a94d858993",
  "signature": "UfUFBphQN9yb978Gcg0IM2XU2ZIU4M9yfJXND8B2EBPsZx6molV777lp5KOUayfLeHwgQHoBIPFsb4khbNf9DA=="
}
