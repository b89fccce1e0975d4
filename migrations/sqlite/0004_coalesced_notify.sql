-- Nothing to do on the embedded store (it has no NOTIFY); kept so both stores number alike.
SELECT 1;
