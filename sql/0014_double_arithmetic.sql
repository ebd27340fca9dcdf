-- Arithmetic as the engine's doubles do it, for a query over rows where PostgreSQL's float8 raises instead.
--
-- PostgreSQL's float8 operators raise 22003 where a result goes past float8's range (an overflow) or rounds to zero
-- from non-zero operands (an underflow), and its sum raises where the total goes past it. The engine computes the
-- same formulas in doubles: a row's result past the range is no value (null), one below it is zero, and a total
-- past it is infinite (the KPI then has no value: "the result is not a finite number"). A query whose statement
-- raises 22003 runs again with these in place of +, -, * and / and with sums that cannot overflow (KpiSqlCompiler,
-- "double arithmetic"): they give the float8 result itself wherever it is within range, so nothing else changes.
--
-- The tests are exact for + and - (with both operands at least 1 in size, halving is exact and never underflows;
-- otherwise the sum cannot overflow). For * and / they compare logarithms with a margin of 1e-9 (a relative 1e-9 of
-- the bound): a product or quotient within that of float8's largest is taken as past it, one within that of half its
-- smallest as zero, so the float8 operator never runs where it would raise.

CREATE OR REPLACE FUNCTION query.dadd(a float8, b float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN abs(a) < 1 OR abs(b) < 1 THEN a + b
        WHEN abs(a * 0.5 + b * 0.5) > 8.988465674311579e307 THEN NULL
        ELSE a + b
    END
$$;

CREATE OR REPLACE FUNCTION query.dsub(a float8, b float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN abs(a) < 1 OR abs(b) < 1 THEN a - b
        WHEN abs(a * 0.5 - b * 0.5) > 8.988465674311579e307 THEN NULL
        ELSE a - b
    END
$$;

CREATE OR REPLACE FUNCTION query.dmul(a float8, b float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN a = 0 OR b = 0 THEN a * b
        WHEN ln(abs(a)) + ln(abs(b)) > 709.782712892 THEN NULL
        WHEN ln(abs(a)) + ln(abs(b)) < -745.133219101 THEN 0
        ELSE a * b
    END
$$;

-- Division by zero is no value, as everywhere in the formulas.
CREATE OR REPLACE FUNCTION query.ddiv(a float8, b float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN b = 0 THEN NULL
        WHEN a = 0 THEN a / b
        WHEN ln(abs(a)) - ln(abs(b)) > 709.782712892 THEN NULL
        WHEN ln(abs(a)) - ln(abs(b)) < -745.133219101 THEN 0
        ELSE a / b
    END
$$;

-- A bucket's total from the two sums a statement adds its values up in (KpiSqlCompiler.StateSql): big, of those at
-- least 2^-900 in size, each scaled by 2^-100 (exact for such values, and for every partial sum as large, so big is
-- float8's own sum of them scaled, and cannot overflow for fewer than 2^99 values), and small, of the others (which
-- cannot overflow). Past float8's range once scaled back, the total is infinite, as the engine's running total is.
CREATE OR REPLACE FUNCTION query.dtotal(big float8, small float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN big IS NULL THEN small
        WHEN abs(big) > 1.4181298336770848e278 THEN sign(big) * 'Infinity'::float8
        ELSE big * 1.2676506002282294e30 + coalesce(small, 0)
    END
$$;
