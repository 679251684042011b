using Gadget.Generator;

// gadget-generator <repository root> [--check]: writes (or, with --check, compares) the generated files.
if (args.Length is < 1 or > 2 || (args.Length == 2 && args[1] != "--check"))
{
    Console.Error.WriteLine("usage: Gadget.Generator <repository root> [--check]");
    return 2;
}

string root = Path.GetFullPath(args[0]);
IReadOnlyList<GeneratedFile> files = CatalogGenerator.Generate(root, CatalogGenerator.DefaultObjectDirectory(root));
if (args.Length == 2)
{
    string[] stale = [.. files.Where(f => !f.IsCurrent(root)).Select(f => f.Path)];
    foreach (string path in stale)
    {
        Console.Error.WriteLine($"out of date: {path}");
    }

    return stale.Length == 0 ? 0 : 1;
}

foreach (GeneratedFile file in files)
{
    file.Write(root);
    Console.WriteLine(file.Path);
}

return 0;
