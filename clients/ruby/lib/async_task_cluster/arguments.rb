# frozen_string_literal: true

require 'yaml'

module AsyncTaskCluster
  # How arguments are written to and read from `method_args`, whatever the column's type: `jsonb` on a table
  # AsyncTask created, `text` on one it adopted from the async_task gem (see the README, "From the async_task gem").
  module Arguments
    # The gem's default encryptor module name; its rows hold YAML, which the nodes decode.
    GEM_NULL_ENCRYPTOR = 'AsyncTask::NullEncryptor'

    module_function

    # The JSON text of `args`: a Hash (or nil, meaning none). Symbols become strings and times ISO 8601, as
    # ActiveSupport's JSON encoding does.
    def encode(args)
      args = {} if args.nil?
      raise ArgumentError, "method_args must be a Hash (keyword arguments), got #{args.class}" unless args.is_a?(Hash)

      ActiveSupport::JSON.encode(args)
    end

    # The value to assign to the column for `json` text: a Hash for json/jsonb columns (ActiveRecord encodes it),
    # the text itself for a text column.
    def column_value(model_class, json)
      %i[json jsonb].include?(model_class.type_for_attribute('method_args').type) ? JSON.parse(json) : json
    end

    # The arguments of a stored row, as a Hash with symbol keys at the top level (the gem called
    # `target.method(**args)`).
    def load(raw, encryptor:, target:, method_name:, encryptors:, id: nil)
      return {} if raw.nil? || raw == ''

      text = raw.is_a?(String) ? raw : JSON.generate(raw)
      hash =
        if encryptor.nil?
          JSON.parse(text)
        elsif encryptor == GEM_NULL_ENCRYPTOR
          load_gem_yaml(text, id)
        else
          sealer = Array(encryptors).compact.find { |candidate| candidate.opens?(encryptor) }
          raise ArgumentsError, "attempt #{id}: no configured encryptor opens '#{encryptor}'" unless sealer

          JSON.parse(sealer.decrypt(text, encryptor: encryptor, target: target, method_name: method_name))
        end
      hash.transform_keys(&:to_sym)
    end

    # The gem's double YAML layer (a YAML string holding the YAML of the hash), read with the classes its
    # arguments may hold and nothing else.
    def load_gem_yaml(text, id)
      permitted = [Symbol, Date, Time]
      inner = YAML.safe_load(text, permitted_classes: permitted, aliases: true)
      args = inner.is_a?(String) ? YAML.safe_load(inner, permitted_classes: permitted, aliases: true) : inner
      args = {} if args.nil?
      raise ArgumentsError, "attempt #{id}: the gem's YAML arguments are a #{args.class}, not a Hash" unless args.is_a?(Hash)

      args
    rescue Psych::Exception => e
      raise ArgumentsError, "attempt #{id}: the gem's YAML arguments cannot be read (#{e.class.name.split('::').last})"
    end
  end
end
