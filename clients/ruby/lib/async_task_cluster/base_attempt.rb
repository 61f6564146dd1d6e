# frozen_string_literal: true

module AsyncTaskCluster
  # The async_task gem's model API on the cluster's table. Include it in the application's model:
  #
  #   class AsyncTask::Attempt < ApplicationRecord
  #     include AsyncTaskCluster::BaseAttempt   # or, unchanged: include AsyncTask::BaseAttempt
  #   end
  #
  #   AsyncTask::Attempt.transaction do
  #     order.save!
  #     AsyncTask::Attempt.create!(target: OrderClient, method_name: :fulfill,
  #                                method_args: { order_number: order.number }, idempotence_token: "order-#{order.id}")
  #   end
  #
  # Rows are written in the caller's transaction; the cluster's nodes run them after it commits. `target` is the
  # name of a target in the workers' configuration (a class becomes its name). Operator actions follow the
  # cluster's rules (the same conditional UPDATEs as `asynctask attempts expire|fail|retry`): one statement each,
  # so a node holding the row cannot overwrite them — its fenced outcome write finds the lease cleared.
  module BaseAttempt
    extend ActiveSupport::Concern

    STATUSES = %w[pending succeeded failed expired].freeze

    included do
      self.table_name = 'async_task_attempts'

      # Per-model encryptor; nil falls back to AsyncTaskCluster.encryptor (and then plaintext JSON).
      class_attribute :async_task_encryptor, instance_writer: false, default: nil

      attr_readonly :idempotence_token, :target, :method_name, :method_args, :encryptor, :ordering_key, :concurrency_key

      validates :target, presence: true
      validates :method_name, presence: true
      validates :status, inclusion: { in: STATUSES }, allow_nil: true
      validates :priority, numericality: { only_integer: true, greater_than_or_equal_to: -32_768, less_than_or_equal_to: 32_767 }, allow_nil: true
      validates :max_attempts, numericality: { only_integer: true, greater_than: 0 }, allow_nil: true
      validate :async_task_arguments_must_be_a_hash
      validate :async_task_keys_must_fit

      STATUSES.each do |name|
        scope name, -> { where(status: name) }
      end

      before_create :async_task_store_arguments
    end

    STATUSES.each do |name|
      define_method("#{name}?") { status == name }
    end

    # A class or module becomes its name; anything else its string.
    def target=(value)
      super(value.is_a?(Module) ? value.name : value&.to_s)
    end

    def method_name=(value)
      super(value&.to_s)
    end

    # Kept until the row is created, when the target and method (bound into an encrypted envelope) are final.
    def method_args=(args)
      @async_task_arguments = args
    end

    # The arguments: a Hash with symbol keys at the top level, as the gem returned them.
    def method_args
      return @async_task_arguments if new_record?

      Arguments.load(read_attribute(:method_args), encryptor: encryptor, target: target, method_name: method_name,
                                                   encryptors: [self.class.async_task_encryptor, AsyncTaskCluster.encryptor], id: id)
    end

    # pending → expired. Raises InvalidStateError unless pending.
    def expire!
      async_task_change!('expire', self.class.where(id: id, status: 'pending'),
                         "status = 'expired', completed_at = now(), updated_at = now(), locked_by = NULL")
    end

    # pending → failed, with an optional reason recorded as the last error. Raises InvalidStateError unless pending.
    def fail!(reason = nil)
      async_task_change!('fail', self.class.where(id: id, status: 'pending'), [<<~SQL.squish, reason, reason])
        status = 'failed', completed_at = now(), updated_at = now(), locked_by = NULL,
        last_error = coalesce(?, last_error), last_error_at = CASE WHEN ?::text IS NULL THEN last_error_at ELSE now() END
      SQL
    end

    # failed or expired → pending, runnable now, with `extra_tries` more tries (nil keeps max_attempts). A keyed
    # attempt retried while a later attempt of its key is in flight waits (parked) for that call, then runs next.
    def retry!(extra_tries: 1)
      t = self.class.quoted_table_name
      async_task_change!('retry', self.class.where(id: id, status: %w[failed expired]), [<<~SQL.squish, extra_tries, extra_tries])
        status = 'pending', completed_at = NULL, updated_at = now(), locked_by = NULL, first_tried_at = NULL,
        available_at = CASE WHEN #{t}.ordering_key IS NOT NULL AND EXISTS (
          SELECT 1 FROM #{t} k WHERE k.target = #{t}.target AND k.ordering_key = #{t}.ordering_key
            AND k.status = 'pending' AND k.locked_by IS NOT NULL) THEN 'infinity'::timestamptz ELSE now() END,
        key_blocked = false, max_attempts = CASE WHEN ?::integer IS NULL THEN max_attempts ELSE num_attempts + ?::integer END
      SQL
    end

    private

    def async_task_arguments_must_be_a_hash
      args = @async_task_arguments
      errors.add(:method_args, "must be a Hash (keyword arguments), got #{args.class}") unless args.nil? || args.is_a?(Hash)
    end

    # `ordering_key` (schema v9): attempts of one target with the same key run one at a time, in id order.
    # `concurrency_key` (schema v10): at most `targets.<name>.key_concurrency` of one key in flight at once.
    def async_task_keys_must_fit
      %i[ordering_key concurrency_key].each do |column|
        key = self[column]
        next if key.nil?

        errors.add(column, "must be 1 to 255 bytes, got #{key.to_s.bytesize}") unless (1..255).cover?(key.to_s.bytesize)
      end
    end

    def async_task_store_arguments
      json = Arguments.encode(@async_task_arguments)
      sealer = self.class.async_task_encryptor || AsyncTaskCluster.encryptor
      if sealer
        json = sealer.encrypt(json, target: target, method_name: method_name)
        self[:encryptor] = sealer.id
      else
        self[:encryptor] = nil
      end
      self[:method_args] = Arguments.column_value(self.class, json)
      self[:status] ||= 'pending'
    end

    def async_task_change!(action, relation, assignments)
      raise ActiveRecord::RecordNotFound, "attempt #{id} not found" if new_record?

      changed = relation.update_all(assignments)
      current = self.class.find_by(id: id) or raise ActiveRecord::RecordNotFound, "attempt #{id} not found"
      if changed.zero?
        applies = action == 'retry' ? 'failed or expired' : 'pending'
        raise InvalidStateError, "cannot #{action} attempt #{id}: it is #{current.status} (#{action} applies to #{applies} attempts)"
      end
      reload
      true
    end
  end
end
