{
  "did": "did:key:z6Mkg6hSapM5fBXpaieNyEHa23oy1baYMgAvYDCBTCHF6f1A",
  "sha256": "5ae51913b1749a014126cef22d16ea87ea9cd6903bc9b9eba4449f4572688e74",
  "signature": "7W7NPb29YpIYv0HjfvX+qwcwlG3wnWOP59pea21wUOT0Qeu6phX7jHpdoYoWZhwVyOk16SlQ0Y1ygiOTRnrtDA=="
}
