namespace AnalyticsEngine; internal static class Placeholder;
