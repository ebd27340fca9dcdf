namespace AnalyticsEngine.Catalog;

/// <summary>The type of one object-model field, as the formula language and the ingest validator see it.</summary>
public enum FieldType
{
    Number = 0,
    Integer = 1,
    Boolean = 2,
    Text = 3,
    Timestamp = 4,
}

/// <summary>
/// How rows of an object model combine: every row of an <see cref="Event"/> object counts;
/// only the latest row per key of a <see cref="Snapshot"/> object counts.
/// </summary>
public enum ObjectKind
{
    Event = 0,
    Snapshot = 1,
}

/// <summary>Whether a higher or a lower value of a KPI is good.</summary>
public enum KpiDirection
{
    HigherIsBetter = 0,
    LowerIsBetter = 1,
}

/// <param name="Dimension">
/// Whether this is a field reports drill down by (a carrier, a status, a region: values that recur over many rows):
/// one-time queries keep rollups per value of it, so a drill-down by it reads whole slots instead of raw rows, and its
/// values are at most 500 characters. Any text, boolean or integer field can be drilled down by; the others read raw
/// rows.
/// </param>
[GenerateSerializer, Immutable, Alias("ae.FieldDefinition")]
public sealed record FieldDefinition(
    [property: Id(0)] string Name,
    [property: Id(1)] FieldType Type,
    [property: Id(2)] string Description,
    [property: Id(3)] bool Required = false,
    [property: Id(4)] bool Dimension = false);

[GenerateSerializer, Immutable, Alias("ae.Relationship")]
public sealed record Relationship(
    [property: Id(0)] string Field,
    [property: Id(1)] string TargetObject,
    [property: Id(2)] string TargetField);

/// <summary>
/// The schema of one kind of business object (orders, invoices, time logs, ...). Rows are stored in
/// <c>{Domain}.{Code}</c>; <see cref="EventTimeField"/> places each row in time.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.ObjectModelDefinition")]
public sealed record ObjectModelDefinition(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] string Description,
    [property: Id(3)] string Domain,
    [property: Id(4)] ObjectKind Kind,
    [property: Id(5)] string EventTimeField,
    [property: Id(6)] IReadOnlyList<string> KeyFields,
    [property: Id(7)] IReadOnlyList<FieldDefinition> Fields,
    [property: Id(8)] IReadOnlyList<Relationship> Relationships)
{
    public FieldDefinition? FindField(string name) =>
        Fields.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.Ordinal));

    /// <summary>The fields marked <see cref="FieldDefinition.Dimension"/>, in field order.</summary>
    public IEnumerable<FieldDefinition> DimensionFields() => Fields.Where(f => f.Dimension);
}

/// <summary>One KPI as the catalog ("the menu") describes it; <see cref="Formula"/> is in the KPI formula language.</summary>
[GenerateSerializer, Immutable, Alias("ae.KpiDefinition")]
public sealed record KpiDefinition(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] string Description,
    [property: Id(3)] string Formula,
    [property: Id(4)] string Unit,
    [property: Id(5)] KpiDirection Direction,
    [property: Id(6)] IReadOnlyList<string> RequiredObjects,
    [property: Id(7)] string Module,
    [property: Id(8)] string ValueChain);

[GenerateSerializer, Immutable, Alias("ae.ModuleDefinition")]
public sealed record ModuleDefinition(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] string Description,
    [property: Id(3)] string ValueChain);

[GenerateSerializer, Immutable, Alias("ae.ValueChainDefinition")]
public sealed record ValueChainDefinition(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] string Description);
