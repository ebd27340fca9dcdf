namespace AnalyticsEngine.Catalog.Packs;

/// <summary>Short constructors that keep the pack files readable as tables of definitions.</summary>
internal static class CatalogDsl
{
    public static FieldDefinition Required(string name, FieldType type, string description) =>
        new(name, type, description, Required: true);

    public static FieldDefinition Optional(string name, FieldType type, string description) =>
        new(name, type, description, Required: false);

    /// <summary>Marks a field as one reports drill down by (<see cref="FieldDefinition.Dimension"/>).</summary>
    public static FieldDefinition AsDimension(this FieldDefinition field) => field with { Dimension = true };

    public static Relationship RefersTo(string field, string targetObject, string targetField) =>
        new(field, targetObject, targetField);

    public static ObjectModelDefinition EventObject(
        string code, string name, string description, string domain, string eventTimeField, string[] keyFields,
        FieldDefinition[] fields, params Relationship[] relationships) =>
        new(code, name, description, domain, ObjectKind.Event, eventTimeField, keyFields, fields, relationships);

    public static ObjectModelDefinition SnapshotObject(
        string code, string name, string description, string domain, string eventTimeField, string[] keyFields,
        FieldDefinition[] fields, params Relationship[] relationships) =>
        new(code, name, description, domain, ObjectKind.Snapshot, eventTimeField, keyFields, fields, relationships);

    public static KpiDefinition Define(
        string code, string name, string description, string formula, string unit, KpiDirection direction,
        string module, string valueChain, params string[] requiredObjects) =>
        new(code, name, description, formula, unit, direction, requiredObjects, module, valueChain);

    /// <summary>How a snapshot object is read, said once for every snapshot object's description.</summary>
    public const string SnapshotRule =
        "A snapshot: each row is the record's state from its updated_at on, and a period sees every record's latest state " +
        "at the period's end.";

    /// <summary>Units shown next to values; a small fixed vocabulary so dashboards can format them.</summary>
    public static class Units
    {
        public const string Percent = "percent";
        public const string Hours = "hours";
        public const string Days = "days";
        public const string Currency = "currency";
        public const string Count = "count";
        public const string Score = "score";
    }
}
