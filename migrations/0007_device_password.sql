-- Settings DevicePassword Set (MS-ASCMD 2.2.3.46): the device's recovery password,
-- kept so an administrator can help a user locked out of the device. Never logged.
ALTER TABLE devices ADD COLUMN recovery_password TEXT;
