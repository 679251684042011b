#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds the module's MAML help from hand-written markdown and the cmdlets' real metadata.

.DESCRIPTION
    Each exported cmdlet has a source file module/help/<Cmdlet>.md in a small PlatyPS-like
    markdown dialect:

        # Trace-GadgetExec
        ## SYNOPSIS            one paragraph
        ## DESCRIPTION         paragraphs; "- " starts a list item
        ## EXAMPLES
        ### Example 1: Title   a ```powershell fenced block, then remarks
        ## PARAMETERS
        ### -Name             what the parameter does
        ## INPUTS / ## OUTPUTS
        ### Type.Name          what flows in or out
        ## NOTES
        ## RELATED LINKS       one [text](uri) per line; an empty uri names a help topic

    Names, types, parameter sets, positions, mandatory flags, aliases, pipeline input and output
    types come from the compiled cmdlets (the staged module is imported in a child pwsh), never
    from the markdown. The build fails when the two disagree: a parameter without a description, a
    description of a parameter that does not exist, an output type without a description, a
    cmdlet without a source file, or an example without code. So the help cannot drift from code.

    The lists come from where the events are described, never from the markdown either:
    - Every output type of the module's own assemblies gets the list of its public properties,
      with their types and the summaries of their XML documentation. An event type's class and
      its summaries are generated from the gadget's BTF and gadget.yaml, so the help says what
      the program produces.
    - A line <!-- gadgets --> in a section becomes the list of the gadgets (bpf/*/gadget.yaml,
      read with the module's own reader): name, description and cmdlet.
    - A line <!-- gadget-parameters --> becomes the list of the gadgets' parameters (the keys
      Start-GadgetTrace -Parameter takes), with descriptions and defaults;
      <!-- gadget-parameters exec --> lists one gadget's.
    The build fails when a gadget names a cmdlet the module does not export, or a type its cmdlet
    does not declare in [OutputType], and when a cmdlet whose help lists the gadgets does not
    declare every gadget's type.

    Writes <ModulePath>/en-US/<assembly>-Help.xml and copies the about_*.help.txt topics. Needs no
    network: the XML documentation is the compiler's, found beside the staged assembly or, when
    staging removed it, in the build output under src/ whose assembly is the staged one, byte for
    byte.

.EXAMPLE
    ./module/help/Build-GadgetHelp.ps1 -ModulePath ./out/Gadget
#>
[CmdletBinding()]
param(
    # The staged module directory (holds the manifest and the cmdlet assembly).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # Where the markdown sources and about topics are.
    [string] $SourcePath = $PSScriptRoot,

    # The gadgets' folders (each with a gadget.yaml).
    [string] $GadgetPath = (Join-Path $PSScriptRoot '../../bpf'),

    # Where to look for the XML documentation of the module's assemblies when it is not beside them.
    [string] $BuildOutputPath = (Join-Path $PSScriptRoot '../../src'),

    [string] $Culture = 'en-US'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$MamlNamespace = 'http://schemas.microsoft.com/maml/2004/10'
$CommandNamespace = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$DevNamespace = 'http://schemas.microsoft.com/maml/dev/2004/10'

function Get-ModuleMetadata {
    # Imports the staged module in a child pwsh (so this build session never loads the cmdlet
    # assembly) and returns, as plain data, what Get-Command knows about each cmdlet, the public
    # properties of the output types from the module's own assemblies, and the gadgets'
    # gadget.yaml files as the module's own reader (Gadget.Schema.GadgetMetadata) reads them.
    param([string] $Path, [string] $GadgetPath)

    $manifest = (Resolve-Path (Join-Path $Path 'Gadget.psd1')).ProviderPath
    $gadgetFiles = @(if (Test-Path $GadgetPath) { Get-ChildItem $GadgetPath -Directory | ForEach-Object { Join-Path $_.FullName 'gadget.yaml' } | Where-Object { Test-Path $_ } })
    $quote = { param($text) "'$($text -replace "'", "''")'" }
    $prelude = "`$Manifest = $(& $quote $manifest)`n`$GadgetFiles = @($((@($gadgetFiles | ForEach-Object { & $quote $_ })) -join ', '))`n"
    $script = $prelude + @'
$ErrorActionPreference = 'Stop'
$module = Import-Module -Name $Manifest -PassThru
# -WhatIf and -Confirm say that a cmdlet changes something: they stay in its syntax and parameters.
$common = [System.Management.Automation.Cmdlet]::CommonParameters + 'UseTransaction'
$context = [Gadget.LoadContext.ModuleLoadContext]::ForModule($module.ModuleBase)
$types = [ordered]@{}

function Get-TypeName([type] $Type) {
    # As PowerShell spells it: [string], [uint], [System.Nullable[timespan]] → timespan (or null).
    $underlying = [Nullable]::GetUnderlyingType($Type)
    if ($underlying) { return "$(Get-TypeName $underlying) (or null)" }
    [Microsoft.PowerShell.ToStringCodeMethods]::Type([psobject]$Type)
}

function Get-Depth([type] $Type) {
    $depth = 0
    for ($current = $Type; $current; $current = $current.BaseType) { $depth++ }
    $depth
}

$commands = foreach ($command in Get-Command -Module $module.Name -CommandType Cmdlet) {
    $parameters = foreach ($parameter in $command.Parameters.Values) {
        if ($parameter.Name -in $common) { continue }
        $type = $parameter.ParameterType
        $underlying = [Nullable]::GetUnderlyingType($type)
        if ($underlying) { $type = $underlying }
        [ordered]@{
            Name      = $parameter.Name
            Type      = $type.Name
            TypeFull  = $type.FullName
            IsSwitch  = $parameter.SwitchParameter
            Aliases   = @($parameter.Aliases)
            Globbing  = [bool]($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
        }
    }
    $sets = foreach ($set in $command.ParameterSets) {
        [ordered]@{
            Name       = $set.Name
            IsDefault  = $set.IsDefault
            Parameters = @(foreach ($parameter in $set.Parameters) {
                if ($parameter.Name -in $common) { continue }
                [ordered]@{
                    Name          = $parameter.Name
                    Mandatory     = $parameter.IsMandatory
                    Position      = $parameter.Position
                    ByValue       = $parameter.ValueFromPipeline
                    ByPropertyName = $parameter.ValueFromPipelineByPropertyName
                }
            })
        }
    }
    foreach ($outputType in $command.OutputType) {
        $type = $outputType.Type
        if (-not $type -or $types.Contains($type.FullName)) { continue }
        if ([System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($type.Assembly) -ne $context) { continue }
        # The properties in the order of the classes that declare them, the base class first.
        $properties = $type.GetProperties([System.Reflection.BindingFlags]'Public, Instance') |
            Sort-Object @{ Expression = { Get-Depth $_.DeclaringType } }, MetadataToken
        $types[$type.FullName] = [ordered]@{
            Assembly   = $type.Assembly.Location
            Properties = @(foreach ($property in $properties) {
                [ordered]@{
                    Name     = $property.Name
                    Type     = Get-TypeName $property.PropertyType
                    MemberId = "P:$($property.DeclaringType.FullName -replace '\+', '.').$($property.Name)"
                }
            })
        }
    }
    [ordered]@{
        Name          = $command.Name
        Verb          = $command.Verb
        Noun          = $command.Noun
        HelpFile      = $command.HelpFile
        OutputTypes   = @($command.OutputType | ForEach-Object Name)
        Parameters    = @($parameters)
        ParameterSets = @($sets)
    }
}

$reader = $context.LoadFromAssemblyName([System.Reflection.AssemblyName]::new('Gadget.Schema')).GetType('Gadget.Schema.GadgetMetadata', $true)
$gadgets = foreach ($file in $GadgetFiles) {
    try { $metadata = $reader.GetMethod('Parse').Invoke($null, @(, [System.IO.File]::ReadAllText($file))) }
    catch { throw "$($file): $($_.Exception.InnerException.Message ?? $_.Exception.Message)" }
    $name = if ($metadata.Name) { $metadata.Name } else { Split-Path -Leaf (Split-Path -Parent $file) }
    [ordered]@{
        Name        = $name
        Path        = $file
        Description = $metadata.Description
        Cmdlet      = $metadata.Cmdlet
        TypeName    = $metadata.TypeName
        Diagnostic  = $metadata.Diagnostic
        Parameters  = @(foreach ($parameter in @($metadata.ProgramParameters) + @($metadata.AgentParameters)) {
            [ordered]@{ Key = $parameter.Key; Description = $parameter.Description; DefaultValue = $parameter.DefaultValue }
        })
    }
}

ConvertTo-Json -InputObject ([ordered]@{ Commands = @($commands); Types = $types; Gadgets = @($gadgets | Sort-Object { $_.Name }) }) -Depth 8 -Compress
'@

    # The same PowerShell that runs this script: pwsh itself, or dotnet + pwsh.dll for the dotnet tool.
    $pwsh = [Environment]::ProcessPath
    $arguments = [Collections.Generic.List[string]]::new()
    if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { $arguments.Add((Join-Path $PSHOME 'pwsh.dll')) }
    $arguments.AddRange([string[]]@('-NoProfile', '-NonInteractive', '-EncodedCommand', [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($script))))
    $json = & $pwsh $arguments
    if ($LASTEXITCODE -ne 0) { throw "Reading the module's metadata from $manifest failed (exit code $LASTEXITCODE)." }
    ($json -join "`n") | ConvertFrom-Json
}

function Find-XmlDocumentation {
    # The compiler's XML documentation of an assembly: beside it, or (staging removes it) in the
    # build output under $Search, taken only where the assembly there is the same, byte for byte.
    param([string] $AssemblyPath, [string] $Search)
    $beside = [IO.Path]::ChangeExtension($AssemblyPath, '.xml')
    if (Test-Path -LiteralPath $beside) { return $beside }
    $name = [IO.Path]::GetFileName($AssemblyPath)
    $length = (Get-Item -LiteralPath $AssemblyPath).Length
    $hash = (Get-FileHash -LiteralPath $AssemblyPath).Hash
    if (Test-Path $Search) {
        foreach ($candidate in Get-ChildItem $Search -Recurse -File -Filter $name) {
            $xml = [IO.Path]::ChangeExtension($candidate.FullName, '.xml')
            if ($candidate.Length -eq $length -and (Test-Path -LiteralPath $xml) -and (Get-FileHash -LiteralPath $candidate.FullName).Hash -eq $hash) {
                return $xml
            }
        }
    }
    throw "No XML documentation for $($AssemblyPath): it is neither beside it nor in the build output under $Search (build the solution, then stage the module from that build)."
}

function Get-DocumentationSummaries {
    # Member id (P:Gadget.SignalEvent.Signal) → its <summary> as one line of plain text.
    param([string] $Path)
    $summaries = @{}
    foreach ($member in ([xml](Get-Content -LiteralPath $Path -Raw)).doc.members.member) {
        $summary = $member['summary']
        if (-not $summary) { continue }
        $text = foreach ($node in $summary.ChildNodes) {
            if ($node.NodeType -ne 'Element') { $node.InnerText; continue }
            switch ($node.LocalName) {
                'see' {
                    if ($node.HasAttribute('cref')) { ($node.GetAttribute('cref') -split '[.:]')[-1] }
                    elseif ($node.HasAttribute('langword')) { $node.GetAttribute('langword') }
                    else { $node.InnerText }
                }
                'paramref' { $node.GetAttribute('name') }
                default { $node.InnerText }
            }
        }
        $summaries[$member.name] = (($text -join '') -replace '\s+', ' ').Trim()
    }
    $summaries
}

function ConvertFrom-HelpMarkdown {
    # Parses one help source into sections. Paragraphs are separated by blank lines; soft-wrapped
    # lines are joined; "- " starts a list item, kept as its own paragraph.
    param([string] $Path)

    $lines = @(Get-Content -LiteralPath $Path)
    $doc = [ordered]@{
        Name = $null; Synopsis = @(); Description = @(); Examples = [Collections.Generic.List[object]]::new()
        Parameters = [ordered]@{}; Inputs = [ordered]@{}; Outputs = [ordered]@{}; Notes = @(); Links = [Collections.Generic.List[object]]::new()
    }

    $i = 0
    if ($lines.Count -gt 0 -and $lines[0] -eq '---') {
        # Front matter (as PlatyPS writes it): ignored.
        $i = 1
        while ($i -lt $lines.Count -and $lines[$i] -ne '---') { $i++ }
        $i++
    }

    $section = $null; $item = $null
    $buffer = [Collections.Generic.List[string]]::new()
    $fence = $null

    $flush = {
        # Turns the buffered lines into paragraphs and files them under the current (sub)section.
        $paragraphs = [Collections.Generic.List[string]]::new()
        $current = $null
        foreach ($line in $buffer) {
            $trimmed = $line.Trim()
            if ($trimmed -eq '') {
                if ($null -ne $current) { $paragraphs.Add($current); $current = $null }
            }
            elseif ($trimmed -match '^<!--') {
                # A generated list (<!-- gadgets -->): its own paragraph, expanded later.
                if ($null -ne $current) { $paragraphs.Add($current); $current = $null }
                $paragraphs.Add($trimmed)
            }
            elseif ($trimmed -match '^[-*] ') {
                if ($null -ne $current) { $paragraphs.Add($current) }
                $current = $trimmed
            }
            else {
                $current = if ($null -eq $current) { $trimmed } else { "$current $trimmed" }
            }
        }
        if ($null -ne $current) { $paragraphs.Add($current) }
        $buffer.Clear()
        if ($paragraphs.Count -eq 0) { return }

        switch ($section) {
            'SYNOPSIS' { $doc.Synopsis += $paragraphs }
            'DESCRIPTION' { $doc.Description += $paragraphs }
            'NOTES' { $doc.Notes += $paragraphs }
            'EXAMPLES' {
                if (-not $item) { throw "$($Path): text under EXAMPLES before the first '### Example' heading." }
                $item.Remarks += $paragraphs
            }
            'PARAMETERS' {
                if (-not $item) { throw "$($Path): text under PARAMETERS before the first '### -Name' heading." }
                $doc.Parameters[$item] += $paragraphs
            }
            { $_ -in 'INPUTS', 'OUTPUTS' } {
                if (-not $item) { throw "$($Path): text under $section before the first '### Type' heading." }
                $doc[$section.Substring(0, 1) + $section.Substring(1).ToLowerInvariant()][$item] += $paragraphs
            }
            'RELATED LINKS' {
                foreach ($paragraph in $paragraphs) {
                    foreach ($match in [regex]::Matches($paragraph, '\[(?<text>[^\]]+)\]\((?<uri>[^)]*)\)')) {
                        $doc.Links.Add([pscustomobject]@{ Text = $match.Groups['text'].Value; Uri = $match.Groups['uri'].Value })
                    }
                }
            }
            default { throw "$($Path): text outside a known section: $($paragraphs[0])" }
        }
    }

    for (; $i -lt $lines.Count; $i++) {
        $line = $lines[$i]
        if ($null -ne $fence) {
            if ($line.Trim() -eq '```') {
                if ($section -ne 'EXAMPLES' -or -not $item) { throw "$($Path): code blocks belong in examples." }
                $item.Code += , ($fence -join "`n")
                $fence = $null
            }
            else { $fence.Add($line) }
            continue
        }
        if ($line -match '^```') {
            & $flush
            $fence = [Collections.Generic.List[string]]::new()
            continue
        }
        if ($line -match '^# (?<name>\S+)\s*$') {
            & $flush
            $doc.Name = $Matches.name
            continue
        }
        if ($line -match '^## (?<title>.+?)\s*$') {
            & $flush
            $section = $Matches.title.ToUpperInvariant()
            $item = $null
            if ($section -notin 'SYNOPSIS', 'SYNTAX', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'RELATED LINKS') {
                throw "$($Path): unknown section '## $($Matches.title)'."
            }
            continue
        }
        if ($line -match '^### (?<title>.+?)\s*$') {
            & $flush
            $title = $Matches.title
            switch ($section) {
                'EXAMPLES' {
                    $item = [pscustomobject]@{ Title = $title; Code = @(); Remarks = @() }
                    $doc.Examples.Add($item)
                }
                'PARAMETERS' {
                    if ($title -notmatch '^-(?<name>\w+)$') { throw "$($Path): a parameter heading is '### -Name', not '### $title'." }
                    $item = $Matches.name
                    if ($doc.Parameters.Contains($item)) { throw "$($Path): parameter -$item is described twice." }
                    $doc.Parameters[$item] = @()
                }
                { $_ -in 'INPUTS', 'OUTPUTS' } {
                    $item = $title
                    $doc[$section.Substring(0, 1) + $section.Substring(1).ToLowerInvariant()][$item] = @()
                }
                default { throw "$($Path): '### $title' has no meaning under '## $section'." }
            }
            continue
        }
        if ($section -eq 'SYNTAX') { continue }   # generated from the cmdlet
        $buffer.Add($line)
    }
    if ($null -ne $fence) { throw "$($Path): a code block is not closed." }
    & $flush
    [pscustomobject]$doc
}

function Test-HelpSource {
    # Everything that would make the help disagree with the code, or be useless, fails the build.
    param($Command, $Doc, [string] $Path)

    $problems = [Collections.Generic.List[string]]::new()
    if ($Doc.Name -ne $Command.Name) { $problems.Add("the title is '# $($Doc.Name)', not '# $($Command.Name)'") }
    if ($Doc.Synopsis.Count -eq 0) { $problems.Add('no SYNOPSIS') }
    if ($Doc.Description.Count -eq 0) { $problems.Add('no DESCRIPTION') }
    if ($Doc.Examples.Count -eq 0) { $problems.Add('no EXAMPLES') }
    foreach ($example in $Doc.Examples) {
        if ($example.Code.Count -eq 0) { $problems.Add("example '$($example.Title)' has no code") }
        if ($example.Remarks.Count -eq 0) { $problems.Add("example '$($example.Title)' has no remarks") }
    }
    foreach ($parameter in $Command.Parameters) {
        if (-not $Doc.Parameters.Contains($parameter.Name)) { $problems.Add("parameter -$($parameter.Name) has no description") }
        elseif (@($Doc.Parameters[$parameter.Name]).Count -eq 0) { $problems.Add("parameter -$($parameter.Name) has an empty description") }
    }
    foreach ($name in $Doc.Parameters.Keys) {
        if ($name -notin $Command.Parameters.Name) { $problems.Add("-$name is described but the cmdlet has no such parameter") }
    }
    foreach ($type in $Command.OutputTypes) {
        if (-not $Doc.Outputs.Contains($type)) { $problems.Add("output type $type (from [OutputType]) has no description under OUTPUTS") }
    }
    foreach ($type in $Doc.Outputs.Keys) {
        if ($type -notin $Command.OutputTypes) { $problems.Add("OUTPUTS describes $type, which is not in the cmdlet's [OutputType]") }
    }
    if ($Doc.Inputs.Count -eq 0) { $problems.Add('no INPUTS (write ### None when nothing is taken from the pipeline)') }
    if ($problems.Count -gt 0) {
        throw "Help source $Path disagrees with $($Command.Name):`n  - $($problems -join "`n  - ")"
    }
}

function Get-GadgetParameterList {
    # One paragraph per gadget parameter: "- key: description Default: value.", prefixed with the
    # gadget's name when the list is of every gadget's.
    param($Gadget, [switch] $WithGadgetName)
    foreach ($parameter in $Gadget.Parameters) {
        $text = $parameter.Description.Trim()
        if ($text -and $text -notmatch '[.!?]$') { $text += '.' }
        if ($null -ne $parameter.DefaultValue -and $text -notmatch '\bdefault\b') { $text += " Default: $($parameter.DefaultValue)." }
        $name = if ($WithGadgetName) { "$($Gadget.Name) $($parameter.Key)" } else { $parameter.Key }
        "- $($name): $text"
    }
}

function Get-GadgetTypeName {
    # gadget.yaml's typeName (SignalEvent) as the cmdlets declare it (Gadget.SignalEvent).
    param([string] $TypeName)
    if (-not $TypeName) { return $null }
    if ($TypeName.Contains('.')) { $TypeName } else { "Gadget.$TypeName" }
}

function Test-GadgetCatalog {
    # Each gadget's cmdlet is exported and declares the gadget's type.
    param($Metadata)
    $problems = [Collections.Generic.List[string]]::new()
    foreach ($gadget in $Metadata.Gadgets) {
        if (-not $gadget.Cmdlet) { continue }
        $command = $Metadata.Commands | Where-Object Name -eq $gadget.Cmdlet
        $type = Get-GadgetTypeName $gadget.TypeName
        if (-not $command) { $problems.Add("gadget $($gadget.Name) names the cmdlet $($gadget.Cmdlet), which the module does not export") }
        elseif ($type -and $type -notin $command.OutputTypes) { $problems.Add("gadget $($gadget.Name)'s type $type is not in $($gadget.Cmdlet)'s [OutputType]") }
    }
    if ($problems.Count -gt 0) {
        throw "The gadgets disagree with the module:`n  - $($problems -join "`n  - ")"
    }
}

function Expand-HelpLists {
    # Replaces the <!-- … --> lines of a help source with the lists they name, and appends to each
    # output type of the module's assemblies the list of its properties.
    param($Command, $Doc, $Metadata, [hashtable] $Summaries, [string] $Path)

    $listsGadgets = $false
    $expand = {
        param([string[]] $Paragraphs)
        foreach ($paragraph in $Paragraphs) {
            if ($paragraph -notmatch '^<!--') { $paragraph; continue }
            if ($paragraph -notmatch '^<!--\s*(?<list>gadgets|gadget-parameters)(\s+(?<gadget>[\w-]+))?\s*-->$' -or ($Matches.list -eq 'gadgets' -and $Matches.Contains('gadget'))) {
                throw "$($Path): '$paragraph' is no list this build knows (<!-- gadgets -->, <!-- gadget-parameters -->, <!-- gadget-parameters NAME -->)."
            }
            if ($Matches.list -eq 'gadgets') {
                Set-Variable listsGadgets $true -Scope 1
                foreach ($gadget in $Metadata.Gadgets) {
                    $text = $gadget.Description.Trim()
                    if ($gadget.Cmdlet) { $text += " ($($gadget.Cmdlet))" }
                    "- $($gadget.Name): $text"
                }
            }
            elseif ($Matches.Contains('gadget')) {
                $name = $Matches.gadget
                $gadget = $Metadata.Gadgets | Where-Object Name -eq $name
                if (-not $gadget) { throw "$($Path): '$paragraph' names no gadget under bpf/ (there are $(($Metadata.Gadgets.Name) -join ', '))." }
                Get-GadgetParameterList $gadget
            }
            else {
                foreach ($gadget in $Metadata.Gadgets) { Get-GadgetParameterList $gadget -WithGadgetName }
            }
        }
    }

    $Doc.Description = @(& $expand $Doc.Description)
    $Doc.Notes = @(& $expand $Doc.Notes)
    foreach ($name in @($Doc.Parameters.Keys)) { $Doc.Parameters[$name] = @(& $expand $Doc.Parameters[$name]) }
    foreach ($type in @($Doc.Outputs.Keys)) { $Doc.Outputs[$type] = @(& $expand $Doc.Outputs[$type]) }

    if ($listsGadgets) {
        foreach ($gadget in $Metadata.Gadgets) {
            $type = Get-GadgetTypeName $gadget.TypeName
            if ($type -and $type -notin $Command.OutputTypes) {
                throw "$($Path) lists the gadgets, but $($Command.Name)'s [OutputType] lacks gadget $($gadget.Name)'s type $type."
            }
        }
    }

    foreach ($type in $Command.OutputTypes) {
        $described = $Metadata.Types.PSObject.Properties[$type]
        if (-not $described -or -not $Doc.Outputs.Contains($type)) { continue }
        # One paragraph, a line per property: Get-Help keeps the lines and wraps each by itself.
        $lines = foreach ($property in $described.Value.Properties) {
            $summary = $Summaries[$property.MemberId]
            if ($summary) { "$($property.Name) [$($property.Type)]: $summary" } else { "$($property.Name) [$($property.Type)]" }
        }
        $Doc.Outputs[$type] = @($Doc.Outputs[$type]) + (@('Properties:') + @($lines) -join "`n")
    }
}

function Write-Paragraphs {
    param([System.Xml.XmlWriter] $Writer, [string[]] $Paragraphs)
    $Writer.WriteStartElement('maml', 'description', $MamlNamespace)
    foreach ($paragraph in $Paragraphs) { $Writer.WriteElementString('maml', 'para', $MamlNamespace, $paragraph) }
    $Writer.WriteEndElement()
}

function Write-Parameter {
    # One command:parameter, as used both in a syntax item and in the parameters section.
    param([System.Xml.XmlWriter] $Writer, $Parameter, $SetEntry, [string[]] $Description, [switch] $InSyntax)

    $pipeline = @(if ($SetEntry.ByValue) { 'ByValue' }; if ($SetEntry.ByPropertyName) { 'ByPropertyName' })
    $Writer.WriteStartElement('command', 'parameter', $CommandNamespace)
    $Writer.WriteAttributeString('required', ([string][bool]$SetEntry.Mandatory).ToLowerInvariant())
    $Writer.WriteAttributeString('variableLength', 'true')
    $Writer.WriteAttributeString('globbing', ([string][bool]$Parameter.Globbing).ToLowerInvariant())
    $Writer.WriteAttributeString('pipelineInput', $(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' }))
    $Writer.WriteAttributeString('position', $(if ($SetEntry.Position -ge 0) { [string]$SetEntry.Position } else { 'named' }))
    $Writer.WriteAttributeString('aliases', $(if ($Parameter.Aliases) { $Parameter.Aliases -join ', ' } else { 'none' }))
    $Writer.WriteElementString('maml', 'name', $MamlNamespace, $Parameter.Name)
    Write-Paragraphs $Writer $Description
    if (-not ($InSyntax -and $Parameter.IsSwitch)) {
        $Writer.WriteStartElement('command', 'parameterValue', $CommandNamespace)
        $Writer.WriteAttributeString('required', ((-not $Parameter.IsSwitch).ToString()).ToLowerInvariant())
        $Writer.WriteAttributeString('variableLength', 'false')
        $Writer.WriteString($Parameter.Type)
        $Writer.WriteEndElement()
    }
    $Writer.WriteStartElement('dev', 'type', $DevNamespace)
    $Writer.WriteElementString('maml', 'name', $MamlNamespace, $Parameter.TypeFull)
    $Writer.WriteElementString('maml', 'uri', $MamlNamespace, '')
    $Writer.WriteEndElement()
    $Writer.WriteElementString('dev', 'defaultValue', $DevNamespace, $(if ($Parameter.IsSwitch) { 'False' } else { 'None' }))
    $Writer.WriteEndElement()
}

function Write-TypeList {
    param([System.Xml.XmlWriter] $Writer, [string] $ListName, [string] $ItemName, [System.Collections.IDictionary] $Types)
    $Writer.WriteStartElement('command', $ListName, $CommandNamespace)
    foreach ($entry in $Types.GetEnumerator()) {
        $Writer.WriteStartElement('command', $ItemName, $CommandNamespace)
        $Writer.WriteStartElement('dev', 'type', $DevNamespace)
        $Writer.WriteElementString('maml', 'name', $MamlNamespace, $entry.Key)
        $Writer.WriteEndElement()
        Write-Paragraphs $Writer @($entry.Value)
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

function Write-CommandHelp {
    param([System.Xml.XmlWriter] $Writer, $Command, $Doc)

    $parametersByName = @{}
    foreach ($parameter in $Command.Parameters) { $parametersByName[$parameter.Name] = $parameter }

    $Writer.WriteStartElement('command', 'command', $CommandNamespace)
    $Writer.WriteAttributeString('xmlns', 'maml', $null, $MamlNamespace)
    $Writer.WriteAttributeString('xmlns', 'command', $null, $CommandNamespace)
    $Writer.WriteAttributeString('xmlns', 'dev', $null, $DevNamespace)

    $Writer.WriteStartElement('command', 'details', $CommandNamespace)
    $Writer.WriteElementString('command', 'name', $CommandNamespace, $Command.Name)
    $Writer.WriteElementString('command', 'verb', $CommandNamespace, $Command.Verb)
    $Writer.WriteElementString('command', 'noun', $CommandNamespace, $Command.Noun)
    Write-Paragraphs $Writer $Doc.Synopsis
    $Writer.WriteEndElement()

    Write-Paragraphs $Writer $Doc.Description

    # One syntax item per parameter set, default set first, parameters in the cmdlet's order
    # (positional first, by position; then mandatory; then the rest).
    $Writer.WriteStartElement('command', 'syntax', $CommandNamespace)
    foreach ($set in @($Command.ParameterSets | Sort-Object { -not $_.IsDefault })) {
        $Writer.WriteStartElement('command', 'syntaxItem', $CommandNamespace)
        $Writer.WriteElementString('maml', 'name', $MamlNamespace, $Command.Name)
        $ordered = $set.Parameters | Sort-Object -Stable @{ Expression = { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } } }, @{ Expression = { -not $_.Mandatory } }
        foreach ($entry in $ordered) {
            Write-Parameter $Writer $parametersByName[$entry.Name] $entry $Doc.Parameters[$entry.Name] -InSyntax
        }
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    # The parameters section: in the order the help source gives them.
    $Writer.WriteStartElement('command', 'parameters', $CommandNamespace)
    foreach ($name in $Doc.Parameters.Keys) {
        $entry = $Command.ParameterSets.Parameters | Where-Object Name -eq $name | Select-Object -First 1
        Write-Parameter $Writer $parametersByName[$name] $entry $Doc.Parameters[$name]
    }
    $Writer.WriteEndElement()

    Write-TypeList $Writer 'inputTypes' 'inputType' $Doc.Inputs
    $outputs = [ordered]@{}
    foreach ($type in $Command.OutputTypes) { $outputs[$type] = $Doc.Outputs[$type] }
    Write-TypeList $Writer 'returnValues' 'returnValue' $outputs

    if ($Doc.Notes.Count -gt 0) {
        $Writer.WriteStartElement('maml', 'alertSet', $MamlNamespace)
        $Writer.WriteStartElement('maml', 'alert', $MamlNamespace)
        foreach ($paragraph in $Doc.Notes) { $Writer.WriteElementString('maml', 'para', $MamlNamespace, $paragraph) }
        $Writer.WriteEndElement()
        $Writer.WriteEndElement()
    }

    $Writer.WriteStartElement('command', 'examples', $CommandNamespace)
    foreach ($example in $Doc.Examples) {
        $Writer.WriteStartElement('command', 'example', $CommandNamespace)
        $Writer.WriteElementString('maml', 'title', $MamlNamespace, "-------------------------- $($example.Title) --------------------------")
        $Writer.WriteElementString('dev', 'code', $DevNamespace, ($example.Code -join "`n`n"))
        $Writer.WriteStartElement('dev', 'remarks', $DevNamespace)
        foreach ($paragraph in $example.Remarks) { $Writer.WriteElementString('maml', 'para', $MamlNamespace, $paragraph) }
        $Writer.WriteElementString('maml', 'para', $MamlNamespace, '')   # a blank line before the next example
        $Writer.WriteEndElement()
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteStartElement('command', 'relatedLinks', $CommandNamespace)
    foreach ($link in $Doc.Links) {
        $Writer.WriteStartElement('maml', 'navigationLink', $MamlNamespace)
        $Writer.WriteElementString('maml', 'linkText', $MamlNamespace, $link.Text)
        $Writer.WriteElementString('maml', 'uri', $MamlNamespace, $(if ($link.Uri -match '^https?://') { $link.Uri } else { '' }))
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()

    $Writer.WriteEndElement()
}

$ModulePath = (Resolve-Path $ModulePath).ProviderPath
$metadata = Get-ModuleMetadata $ModulePath $GadgetPath
$commands = @($metadata.Commands)
if ($commands.Count -eq 0) { throw "The module in $ModulePath exports no cmdlets." }
if (@($metadata.Gadgets).Count -eq 0) { throw "No gadget.yaml under $GadgetPath." }
Test-GadgetCatalog $metadata

# The summaries of the XML documentation of every assembly an output type comes from.
$summaries = @{}
foreach ($assembly in @($metadata.Types.PSObject.Properties.Value.Assembly | Sort-Object -Unique)) {
    $summaries += Get-DocumentationSummaries (Find-XmlDocumentation $assembly $BuildOutputPath)
}

$outDir = Join-Path $ModulePath $Culture
New-Item $outDir -ItemType Directory -Force | Out-Null

# Every cmdlet of an assembly shares one help file, named after the assembly.
foreach ($group in $commands | Group-Object HelpFile) {
    $helpPath = Join-Path $outDir $group.Name
    $settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [Text.UTF8Encoding]::new($false) }
    $writer = [System.Xml.XmlWriter]::Create($helpPath, $settings)
    try {
        $writer.WriteStartDocument()
        $writer.WriteStartElement('helpItems', 'http://msh')
        $writer.WriteAttributeString('schema', 'maml')
        foreach ($command in $group.Group | Sort-Object Name) {
            $source = Join-Path $SourcePath "$($command.Name).md"
            if (-not (Test-Path $source)) { throw "$($command.Name) has no help source: write $source." }
            $doc = ConvertFrom-HelpMarkdown $source
            Test-HelpSource $command $doc $source
            Expand-HelpLists $command $doc $metadata $summaries $source
            Write-CommandHelp $writer $command $doc
        }
        $writer.WriteEndElement()
        $writer.WriteEndDocument()
    }
    finally {
        $writer.Dispose()
    }
    [xml](Get-Content $helpPath -Raw) | Out-Null   # well-formed, or the build stops here
    Write-Verbose "Wrote $helpPath ($($group.Count) cmdlets)."
}

foreach ($topic in Get-ChildItem $SourcePath -Filter 'about_*.help.txt') {
    Copy-Item $topic.FullName $outDir
}
