# frozen_string_literal: true

# Real Psych output for Tests/AsyncTaskTests/GemArgumentsDecoderTests.swift: the cluster's decoder must read the
# async_task gem's YAML exactly as Ruby does.
#
#   ruby psych_cases.rb arguments      one JSON line per case: the column value the gem stores (YAML.dump of
#                                      args.to_yaml, as `serialize :method_args` does) and JSON.generate(args)
#   ruby psych_cases.rb scalars FILE   FILE: a JSON array of texts; prints a JSON array of [kind, text] pairs,
#                                      what Psych's ScalarScanner#tokenize makes of each as a plain scalar
require 'yaml'
require 'json'
require 'date'

ARGUMENTS = {
  # Strings that Psych writes unquoted and reads back as strings, though YAML 1.1 would type them.
  numeric_looking_strings: {
    a: '1e3', b: '12E5', c: '1.5e3', d: '6e07', e: '0o17', f: '1__0', g: '1_', h: '1,', i: '12e3', j: '1E+3',
    k: '1_000_', l: '1:2:3:4', m: '0x1G', n: '1.2.3', o: '0.5e', p: 'Infinity', q: 'inf', r: 'NaN', s: '_1',
    t: '2026-02-30', u: '2026-13-01 10:00:00', v: '2026-12-02 10:00:00 +25:00', w: '0b2', x: '1e-5', y: '6e+07'
  },
  # Strings that Psych quotes because it would read them as something else.
  quoted_strings: {
    a: '017', b: '0x1F', c: '1,000', d: '1_0', e: '1:30', f: '08', g: 'yes', h: 'y', i: '~', j: 'null', k: '1.0',
    l: '.5', m: ':sym', n: '2026-12-02', o: '1.5e+3', p: 'tRuE', q: '-1', r: '+12', s: '', t: ' padded ',
    u: "line\nbreak", v: "\b\f\u0001 tab\t \"q\" \\"
  },
  numbers: {
    small: 7, negative: -12, zero: 0, big: 2**70, negative_big: -(2**65), half: 1.5, large: 1.0e20, tiny: 1.0e-5,
    hundred: 100.0, tenth: 0.1, negative_zero: -0.0, third: 1.0 / 3, fifteen: 1.0e15, almost: 1234567890123456.8,
    smallest: 5.0e-324
  },
  others: {
    yes: true, no: false, nothing: nil, symbol: :pending, symbol_with_space: :"odd name", list: [1, 'two', :three, nil, 2.5],
    nested: { deeper: { 'string key' => 1, 2 => 'int key', 1.5 => 'float key', nil => 'nil key', true => 'true key' } },
    'string_key' => 'x', unicode: 'é ü 😀'
  }
}.freeze

def arguments
  ARGUMENTS.each do |name, args|
    puts JSON.generate(name: name, stored: YAML.dump(args.to_yaml), json: JSON.generate(args))
  end
end

def kind(value)
  case value
  when nil then ['null', '']
  when true, false then ['bool', value.to_s]
  when Integer then ['integer', value.to_s]
  when Float then ['float', value.to_s]
  when Symbol then ['symbol', value.to_s]
  when Time then ['time', '']
  when Date then ['date', '']
  when String then ['string', value]
  else ['other', value.class.name]
  end
end

def scalars(file)
  scanner = Psych::ScalarScanner.new(Psych::ClassLoader.new)
  out = JSON.parse(File.read(file)).map do |text|
    kind(scanner.tokenize(text))
  rescue StandardError
    ['error', '']
  end
  puts JSON.generate(out)
end

case ARGV[0]
when 'arguments' then arguments
when 'scalars' then scalars(ARGV.fetch(1))
else abort 'usage: psych_cases.rb arguments | scalars FILE'
end
