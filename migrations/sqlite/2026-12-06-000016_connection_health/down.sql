DROP TABLE connection_notices;
DROP TABLE connection_refusals;
DROP TABLE connection_health;
