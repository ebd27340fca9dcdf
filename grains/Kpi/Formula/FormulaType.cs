namespace AnalyticsEngine.Kpi.Formula;

/// <summary>The static type of a formula expression, as the binder infers it.</summary>
internal enum FormulaType
{
    /// <summary>A number (fields of type number or integer, literals, arithmetic, aggregates).</summary>
    Number,

    /// <summary>True, false or unknown (boolean fields, comparisons, and/or/not).</summary>
    Boolean,

    /// <summary>Text fields and quoted literals.</summary>
    Text,

    /// <summary>Timestamp fields; subtracting two gives a number of milliseconds.</summary>
    Timestamp,

    /// <summary>A whole object model (only as the argument of count).</summary>
    Object,

    /// <summary>Already reported as an error; suppresses follow-on complaints.</summary>
    Error,
}
