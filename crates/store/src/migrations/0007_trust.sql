-- Where a workflow came from when it was imported and is not trusted yet (a file name); NULL
-- once the user trusts it, and for workflows made here. An untrusted workflow runs nothing
-- that uses an account.
ALTER TABLE workflows ADD COLUMN untrusted TEXT;
