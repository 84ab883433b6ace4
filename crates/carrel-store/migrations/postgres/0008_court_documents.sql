-- Legal process names the court that issued it and that court's
-- jurisdiction, which legal counsel then confirms (with good cause and
-- proper form) before advising release, where the policy asks for it
-- (Missouri PUB 06-04: "issued by a court of competent jurisdiction that
-- shows good cause and is in proper form").
ALTER TABLE disclosure_documents ADD COLUMN issuing_court TEXT;
ALTER TABLE disclosure_documents ADD COLUMN jurisdiction TEXT;
