local h = require("dmap.s3_helper")
local s3 = require("stepflow.s3")

local function with_s3(fn)
  local b, root = h.backend("bucket")
  local ok, err = pcall(fn, { s3 = b }, root)
  h.remove(root)
  if not ok then error(err, 0) end
end

describe("stepflow.s3", function()
  it("maps the aws-sdk:s3 resources to their actions", function()
    assert.equal(s3.getObject, s3.resources["arn:aws:states:::aws-sdk:s3:getObject"])
    for _, a in ipairs({ "putObject", "listObjectsV2", "headObject", "deleteObject" }) do
      assert.equal(s3[a], s3.resources["arn:aws:states:::aws-sdk:s3:" .. a])
    end
  end)

  describe("putObject", function()
    it("stores a Body's JSON text (a string with its quotes) and answers as AWS recorded", function()
      with_s3(function(ctx, root)
        assert.same({ ChecksumCRC32 = "KUmHvQ==", ChecksumType = "FULL_OBJECT",
          ETag = '"2b5df3712557f503a9977a8ea893b2c9"', ServerSideEncryption = "AES256" },
          s3.putObject({ Bucket = "bucket", Key = "a/b/file-key", Body = "text data" }, ctx))
        assert.same('"text data"', h.read(root, "bucket", "a/b/file-key"))
        assert.same('"49e31cee5aec8faf3345893addb14346"',
          s3.putObject({ Bucket = "bucket", Key = "k", Body = { Dict = "Value" } }, ctx).ETag)
        assert.same("0", (s3.putObject({ Bucket = "bucket", Key = "n", Body = 0 }, ctx) and
          h.read(root, "bucket", "n")))
      end)
    end)

    it("fails with S3.NoSuchBucketException for a missing bucket", function()
      with_s3(function(ctx)
        local err = h.error_of(s3.putObject, { Bucket = "none", Key = "k", Body = "x" }, ctx)
        assert.same("S3.NoSuchBucketException", err.Error)
        assert.matches("^The specified bucket does not exist%. %(Service: S3, Status Code: 404, Request ID: %x+, " ..
          "Extended Request ID: %x+%)$", err.Cause)
      end)
    end)
  end)

  describe("getObject", function()
    it("returns the Body as text with the object's metadata", function()
      with_s3(function(ctx, root)
        h.write(root, "bucket", "file_key", "text data")
        local out = s3.getObject({ Bucket = "bucket", Key = "file_key" }, ctx)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", out.LastModified)
        out.LastModified = nil
        assert.same({ AcceptRanges = "bytes", Body = "text data", ContentLength = 9,
          ContentType = "binary/octet-stream", ETag = '"332eec544317a6d340b8e77da7fe54ad"', Metadata = {},
          ServerSideEncryption = "AES256" }, out)
      end)
    end)

    it("reads a Range and replaces bytes that are not UTF-8", function()
      with_s3(function(ctx, root)
        h.write(root, "bucket", "f", "0123456789\255")
        local out = s3.getObject({ Bucket = "bucket", Key = "f", Range = "bytes=2-4" }, ctx)
        assert.same({ "234", 3, "bytes 2-4/11" }, { out.Body, out.ContentLength, out.ContentRange })
        assert.same("89\239\191\189", s3.getObject({ Bucket = "bucket", Key = "f", Range = "bytes=-3" }, ctx).Body)
      end)
    end)

    it("fails with S3.NoSuchKeyException and AWS's cause", function()
      with_s3(function(ctx)
        local err = h.error_of(s3.getObject, { Bucket = "bucket", Key = "no_such_key.json" }, ctx)
        assert.same("S3.NoSuchKeyException", err.Error)
        assert.matches("^The specified key does not exist%. %(Service: S3, Status Code: 404, Request ID: ", err.Cause)
        assert.same("S3.NoSuchKeyException", h.error_of(s3.getObject, { Bucket = "bucket", Key = "../x" }, ctx).Error)
      end)
    end)

    it("fails clearly when no S3 folder is configured", function()
      local err = h.error_of(s3.getObject, { Bucket = "b", Key = "k" }, {})
      assert.matches("--s3-dir", err.Cause, 1, true)
    end)
  end)

  it("headObject gives the metadata without the body; deleteObject removes, missing keys included", function()
    with_s3(function(ctx, root)
      h.write(root, "bucket", "x", "abc")
      local head = s3.headObject({ Bucket = "bucket", Key = "x" }, ctx)
      assert.same({ 3, nil }, { head.ContentLength, head.Body })
      assert.same({}, s3.deleteObject({ Bucket = "bucket", Key = "x" }, ctx))
      assert.is_nil(h.read(root, "bucket", "x"))
      assert.same({}, s3.deleteObject({ Bucket = "bucket", Key = "x" }, ctx))
      assert.same("S3.NoSuchKeyException", h.error_of(s3.headObject, { Bucket = "bucket", Key = "x" }, ctx).Error)
      assert.same("S3.NoSuchBucketException", h.error_of(s3.deleteObject, { Bucket = "zz", Key = "x" }, ctx).Error)
    end)
  end)

  describe("listObjectsV2", function()
    it("lists keys in order with Prefix, Delimiter and pages of MaxKeys", function()
      with_s3(function(ctx, root)
        for _, k in ipairs({ "a.txt", "d/1", "d/2", "e/x/y", "f" }) do h.write(root, "bucket", k, k) end
        local out = s3.listObjectsV2({ Bucket = "bucket", Delimiter = "/" }, ctx)
        assert.same({ { Prefix = "d/" }, { Prefix = "e/" } }, out.CommonPrefixes)
        assert.same({ "a.txt", "f" }, { out.Contents[1].Key, out.Contents[2].Key })
        assert.same({ 4, false, "bucket", "" }, { out.KeyCount, out.IsTruncated, out.Name, out.Prefix })
        local keys, token = {}, nil
        repeat
          local page = s3.listObjectsV2({ Bucket = "bucket", MaxKeys = 2, ContinuationToken = token }, ctx)
          for _, c in ipairs(page.Contents or {}) do keys[#keys + 1] = c.Key end
          token = page.NextContinuationToken
          assert.same(page.IsTruncated, token ~= nil)
        until not token
        assert.same({ "a.txt", "d/1", "d/2", "e/x/y", "f" }, keys)
        out = s3.listObjectsV2({ Bucket = "bucket", Prefix = "d/", StartAfter = "d/1" }, ctx)
        assert.same({ 1, "d/2", 3, "STANDARD" }, { out.KeyCount, out.Contents[1].Key, out.Contents[1].Size,
          out.Contents[1].StorageClass })
      end)
    end)

    it("omits Contents for an empty listing and fails for a missing bucket", function()
      with_s3(function(ctx)
        local out = s3.listObjectsV2({ Bucket = "bucket" }, ctx)
        assert.same({ nil, 0 }, { out.Contents, out.KeyCount })
        assert.same("S3.NoSuchBucketException", h.error_of(s3.listObjectsV2, { Bucket = "nope" }, ctx).Error)
      end)
    end)
  end)
end)
