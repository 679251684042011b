using System.Globalization;
using System.Text;
using Gadget.Schema;

namespace Gadget.Generator;

/// <summary>
/// Writes the views of the gadgets' event types: the table views their gadget.yaml describes, and
/// a list view of every property. Column widths are fixed, so a live stream prints row by row
/// instead of waiting for PowerShell to measure. Text a traced process controls (argv, file names,
/// process names) and every script column go through <c>[Gadget.ControlText]::Display</c>, so control
/// characters show as visible escapes and never drive the terminal; the properties keep the raw text.
/// </summary>
internal static class FormatViewWriter
{
    /// <summary>The call that makes a value safe to print (the module names the type to PowerShell).</summary>
    public const string Display = "[Gadget.ControlText]::Display";

    public static string Write(IReadOnlyList<GadgetSource> types, IReadOnlyDictionary<string, IReadOnlyList<ViewProperty>> properties)
    {
        var xml = new StringBuilder();
        xml.AppendLine("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        xml.AppendLine("<!-- Written by src/Gadget.Generator from the gadget.yaml files under bpf/ (their views).");
        xml.AppendLine("     Do not edit: change the gadget's folder, then run ./build.ps1 -Task Generate. -->");
        xml.AppendLine("<Configuration>");
        xml.AppendLine("  <ViewDefinitions>");
        foreach (GadgetSource gadget in types.OrderBy(t => t.Metadata.TypeName, StringComparer.Ordinal))
        {
            IReadOnlyList<ViewProperty> typeProperties = properties[gadget.Metadata.TypeName!];
            foreach (ViewMetadata view in WithPodView(gadget.Metadata.Views))
            {
                Check(view, gadget.Name);
                WriteView(xml, view, "Gadget." + gadget.Metadata.TypeName, typeProperties);
            }

            WriteListView(xml, "Gadget." + gadget.Metadata.TypeName, typeProperties);
        }

        xml.AppendLine("  </ViewDefinitions>");
        xml.AppendLine("</Configuration>");
        return xml.ToString();
    }

    /// <summary>The width a table may take: a terminal of 120 columns shows it without wrapping.</summary>
    public const int MaxWidth = 120;

    /// <summary>The narrow terminal every view is checked against: the headers it shows stay whole.</summary>
    public const int NarrowWidth = 80;

    /// <summary>The least a last column without a width is left at <see cref="MaxWidth"/>.</summary>
    public const int MinLastWidth = 10;

    /// <summary>
    /// The rules every table view follows, so a stream prints at once and its key columns are seen
    /// first: each column but the last has a fixed width (the last takes what is left of the line),
    /// and the fixed columns, their separators and the last column's least width fit
    /// <see cref="MaxWidth"/>. The default view starts with TIME; pod identity goes in the view named
    /// pod, not in the default view. A narrow terminal drops columns from the right.
    /// </summary>
    public static void Check(ViewMetadata view, string gadget)
    {
        IReadOnlyList<ColumnMetadata> columns = view.Columns;
        if (columns.Count == 0)
        {
            throw new InvalidOperationException($"bpf/{gadget}/gadget.yaml: view {view.Name} has no columns.");
        }

        foreach (ColumnMetadata column in columns.Take(columns.Count - 1).Where(c => c.Width is null))
        {
            throw new InvalidOperationException($"bpf/{gadget}/gadget.yaml: column {column.Label} of view {view.Name} needs a width (only the last column may go without one).");
        }

        foreach (ColumnMetadata column in columns.Where(c => c.Width is int w && w < c.Label.Length))
        {
            throw new InvalidOperationException($"bpf/{gadget}/gadget.yaml: column {column.Label} of view {view.Name} is narrower than its header.");
        }

        int width = LineWidth(columns);
        if (width > MaxWidth)
        {
            throw new InvalidOperationException($"bpf/{gadget}/gadget.yaml: view {view.Name} takes {width} columns; at most {MaxWidth} fit a terminal without wrapping.");
        }

        if (NarrowCut(columns) is (ColumnMetadata cut, int left))
        {
            throw new InvalidOperationException($"bpf/{gadget}/gadget.yaml: at {NarrowWidth} columns view {view.Name} leaves {left} for {cut.Label}, which cuts its header; move the columns before it by {cut.Label.Length - left}.");
        }

        if (view.Name != PodView && columns[0].Property != "Timestamp")
        {
            throw new InvalidOperationException($"bpf/{gadget}/gadget.yaml: view {view.Name} starts with {columns[0].Label}; views start with the time (TIME, property Timestamp).");
        }

        if (view.Name != PodView && columns.FirstOrDefault(c => c.Property is "Node" or "Namespace" or "Pod" or "Container") is ColumnMetadata pod)
        {
            throw new InvalidOperationException($"bpf/{gadget}/gadget.yaml: view {view.Name} shows {pod.Label}; pod identity belongs in the view named {PodView}.");
        }
    }

    /// <summary>The name of the view that shows pod identity (<c>Format-Table -View pod</c>).</summary>
    public const string PodView = "pod";

    /// <summary>
    /// A terminal of 80 columns shows the columns that fit and cuts the next one to what is left:
    /// the column whose header that would cut, and what is left for it; null when every header shown is whole.
    /// </summary>
    private static (ColumnMetadata Column, int Left)? NarrowCut(IReadOnlyList<ColumnMetadata> columns)
    {
        int end = -1;
        foreach (ColumnMetadata column in columns)
        {
            int left = NarrowWidth - end - 1;
            if (column.Width is not int w || end + 1 + w > NarrowWidth)
            {
                return left > 0 && left < column.Label.Length ? (column, left) : null;
            }

            end += 1 + w;
        }

        return null;
    }

    /// <summary>How wide a view's line is: fixed widths, one space between columns, the last column's least width when it has none.</summary>
    private static int LineWidth(IReadOnlyList<ColumnMetadata> columns)
        => columns.Sum(c => c.Width ?? MinLastWidth) + columns.Count - 1;

    /// <summary>
    /// The views of a gadget, with a view named pod made from its default view when gadget.yaml
    /// declares none: TIME, NAMESPACE, POD and CONTAINER, then the default view's columns that still fit.
    /// </summary>
    public static IEnumerable<ViewMetadata> WithPodView(IReadOnlyList<ViewMetadata> views)
    {
        if (views.Count == 0 || views.Any(v => v.Name == PodView))
        {
            return views;
        }

        ColumnMetadata time = views[0].Columns[0];
        var columns = new List<ColumnMetadata>
        {
            time,
            new("NAMESPACE", 12, false, "Namespace", null, null),
            new("POD", 26, false, "Pod", null, null),
            new("CONTAINER", 12, false, "Container", null, null),
        };

        // The pod stands for the process here: what the gadget is about follows, each column that still fits.
        foreach (ColumnMetadata column in views[0].Columns.Skip(1).Where(c => c.Property is not ("Pid" or "Tid" or "Ppid" or "Uid" or "Comm")))
        {
            if (LineWidth([.. columns, column]) <= MaxWidth && NarrowCut([.. columns, column]) is null)
            {
                columns.Add(column);
            }
        }

        return [.. views, new ViewMetadata(PodView, columns)];
    }

    /// <summary>What a view shows for a property: the property itself, or its value escaped when it may hold text.</summary>
    public static string Item(string property, bool isText)
        => isText ? $"<ScriptBlock>{Text.Xml($"{Display}($_.{property})")}</ScriptBlock>" : $"<PropertyName>{Text.Xml(property)}</PropertyName>";

    private static void WriteListView(StringBuilder xml, string typeName, IReadOnlyList<ViewProperty> properties)
    {
        xml.AppendLine("    <View>");
        xml.AppendLine($"      <Name>{Text.Xml(typeName)}.List</Name>");
        xml.AppendLine("      <ViewSelectedBy>");
        xml.AppendLine($"        <TypeName>{Text.Xml(typeName)}</TypeName>");
        xml.AppendLine("      </ViewSelectedBy>");
        xml.AppendLine("      <ListControl>");
        xml.AppendLine("        <ListEntries>");
        xml.AppendLine("          <ListEntry>");
        xml.AppendLine("            <ListItems>");
        foreach (ViewProperty property in properties)
        {
            string label = property.IsText ? $"<Label>{Text.Xml(property.Name)}</Label>" : string.Empty;
            xml.AppendLine($"              <ListItem>{label}{Item(property.Name, property.IsText)}</ListItem>");
        }

        xml.AppendLine("            </ListItems>");
        xml.AppendLine("          </ListEntry>");
        xml.AppendLine("        </ListEntries>");
        xml.AppendLine("      </ListControl>");
        xml.AppendLine("    </View>");
    }

    private static void WriteView(StringBuilder xml, ViewMetadata view, string typeName, IReadOnlyList<ViewProperty> properties)
    {
        xml.AppendLine("    <View>");
        xml.AppendLine($"      <Name>{Text.Xml(view.Name)}</Name>");
        xml.AppendLine("      <ViewSelectedBy>");
        xml.AppendLine($"        <TypeName>{Text.Xml(typeName)}</TypeName>");
        xml.AppendLine("      </ViewSelectedBy>");
        xml.AppendLine("      <TableControl>");
        xml.AppendLine("        <TableHeaders>");
        foreach (ColumnMetadata column in view.Columns)
        {
            string width = column.Width is int w ? $"<Width>{w.ToString(CultureInfo.InvariantCulture)}</Width>" : string.Empty;
            string alignment = column.AlignRight ? "<Alignment>Right</Alignment>" : string.Empty;
            xml.AppendLine($"          <TableColumnHeader><Label>{Text.Xml(column.Label)}</Label>{width}{alignment}</TableColumnHeader>");
        }

        xml.AppendLine("        </TableHeaders>");
        xml.AppendLine("        <TableRowEntries>");
        xml.AppendLine("          <TableRowEntry>");
        xml.AppendLine("            <TableColumnItems>");
        foreach (ColumnMetadata column in view.Columns)
        {
            // A script's value is not known here: it is escaped whatever it is (Display leaves numbers, times and enums alone).
            string item = column.Script is string script
                ? $"<ScriptBlock>{Text.Xml($"{Display}($({script}))")}</ScriptBlock>"
                : Item(
                    column.Property ?? throw new InvalidOperationException($"Column {column.Label} of view {view.Name} needs a property or a script."),
                    properties.FirstOrDefault(p => p.Name == column.Property)?.IsText ?? true);
            string format = column.Format is string f ? $"<FormatString>{Text.Xml(f)}</FormatString>" : string.Empty;
            xml.AppendLine($"              <TableColumnItem>{item}{format}</TableColumnItem>");
        }

        xml.AppendLine("            </TableColumnItems>");
        xml.AppendLine("          </TableRowEntry>");
        xml.AppendLine("        </TableRowEntries>");
        xml.AppendLine("      </TableControl>");
        xml.AppendLine("    </View>");
    }
}
